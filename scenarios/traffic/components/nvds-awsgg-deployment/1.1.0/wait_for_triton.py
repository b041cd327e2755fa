"""Wait until a Triton server answers and serves a model, then exit 0 (exit 1 after the timeout).

Run by the component's Run script before the app. nvinferserver's gRPC mode checks the server
once when the pipeline starts and fails if it is not ready; the nucleus restarts an app that
exits, and three failures in a row make the component BROKEN. A server that restarts (an update,
a crash) takes longer than three quick restarts, so the recipe waits for it first.

    python3 wait_for_triton.py HOST:PORT MODEL [TIMEOUT_S]
"""

from __future__ import annotations

import sys
import time


def main(argv: list[str]) -> int:
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    url, model = argv[0], argv[1]
    timeout = float(argv[2]) if len(argv) > 2 else 60.0
    deadline = time.monotonic() + timeout
    client = grpcclient.InferenceServerClient(url)
    try:
        while True:
            try:
                if client.is_server_ready() and client.is_model_ready(model):
                    print(f"Triton at {url} serves {model}", flush=True)
                    return 0
            except InferenceServerException:
                pass
            if time.monotonic() >= deadline:
                print(f"Triton at {url} did not serve {model} within {timeout:g} s", file=sys.stderr)
                return 1
            time.sleep(0.5)
    finally:
        client.close()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
