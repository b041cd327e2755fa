"""Inventory of the pyds API that real DeepStream apps use, read from their source with ``ast``.

The apps are the seed's (jastinjn/deepstream-greengrass-app) and NVIDIA's samples
(NVIDIA-AI-IOT/deepstream_python_apps), read from the local mirror of those repositories. An entry
is either a module path (``pyds.NvDsFrameMeta.cast``, ``pyds.NvDsMetaType.NVDS_EVENT_MSG_META``) or a
member path on a pyds type (``NvDsDisplayMeta.text_params[].font_params.font_color.set``), found by
following what each variable holds: ``pyds.X.cast(...)`` gives an X, ``pyds.nvds_acquire_…`` and
``pyds.alloc_…`` their types, a member of a typed value its path, ``for v in pyds.X.list(...)`` the
element type, and arguments flow into the parameters of the app's own functions.

``python tests/unit/deepstream/pyds_inventory.py`` rewrites ``pyds_inventory.txt`` beside it, the
committed list the unit test checks when the mirror is absent (CI).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

MIRROR = Path("/work/.mirror")
INVENTORY_FILE = Path(__file__).with_name("pyds_inventory.txt")

#: repository → files (paths ending in / are folders: their *.py files)
APPS: dict[str, tuple[str, ...]] = {
    "jastinjn/deepstream-greengrass-app": ("artifacts/source/deepstream_app.py", "artifacts/source/common/"),
    "NVIDIA-AI-IOT/deepstream_python_apps": (
        "apps/deepstream-test1/",
        "apps/deepstream-test1-rtsp-out/",
        "apps/deepstream-test2/",
        "apps/deepstream-test3/",
        "apps/deepstream-test4/",
        "apps/deepstream-nvdsanalytics/",
        "apps/deepstream-imagedata-multistream/",
        "apps/runtime_source_add_delete/",
        "apps/deepstream-ssd-parser/",
        "apps/common/",
    ),
}

#: what pyds functions return
RETURNS = {
    "gst_buffer_get_nvds_batch_meta": "NvDsBatchMeta",
    "nvds_create_batch_meta": "NvDsBatchMeta",
    "nvds_acquire_frame_meta_from_pool": "NvDsFrameMeta",
    "nvds_acquire_obj_meta_from_pool": "NvDsObjectMeta",
    "nvds_acquire_display_meta_from_pool": "NvDsDisplayMeta",
    "nvds_acquire_user_meta_from_pool": "NvDsUserMeta",
    "nvds_acquire_classifier_meta_from_pool": "NvDsClassifierMeta",
    "nvds_acquire_label_info_meta_from_pool": "NvDsLabelInfo",
    "nvds_get_nth_frame_meta": "NvDsFrameMeta",
    "alloc_nvds_event_msg_meta": "NvDsEventMsgMeta",
    "alloc_nvds_vehicle_object": "NvDsVehicleObject",
    "alloc_nvds_person_object": "NvDsPersonObject",
    "alloc_nvds_face_object": "NvDsFaceObject",
    "alloc_nvds_payload": "NvDsPayload",
    "glist_get_nvds_batch_meta": "NvDsBatchMeta",
    "glist_get_nvds_frame_meta": "NvDsFrameMeta",
    "glist_get_nvds_object_meta": "NvDsObjectMeta",
    "glist_get_nvds_user_meta": "NvDsUserMeta",
    "glist_get_nvds_display_meta": "NvDsDisplayMeta",
    "glist_get_nvds_classifier_meta": "NvDsClassifierMeta",
    "glist_get_nvds_label_info": "NvDsLabelInfo",
    "glist_get_nvds_event_msg_meta": "NvDsEventMsgMeta",
    "glist_get_nvds_tensor_meta": "NvDsInferTensorMeta",
    "get_nvds_LayerInfo": "NvDsInferLayerInfo",
    "NvDsInferObjectDetectionInfo": "NvDsInferObjectDetectionInfo",  # a struct the app builds
}
#: what pyds's ``X.list(x)`` iterators yield
LIST_OF = {
    "NvDsTargetMiscDataBatch": "NvDsTargetMiscDataStream",
    "NvDsTargetMiscDataStream": "NvDsTargetMiscDataObject",
    "NvDsTargetMiscDataObject": "NvDsTargetMiscDataFrame",
}


def _chain(node: ast.expr) -> tuple[ast.expr, list[str]] | None:
    """(root, [member, ...]) of ``a.b[0].c`` or ``f(x).b``: the root is a Name or a Call, a
    subscript is written ``[]`` on the member it indexes."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            parts.append("[]")
            node = node.value
        elif isinstance(node, ast.Name | ast.Call):
            parts.reverse()
            merged: list[str] = []
            for part in parts:
                if part == "[]" and merged:
                    merged[-1] += "[]"
                elif part != "[]":
                    merged.append(part)
            return node, merged
        else:
            return None


def _name(root: ast.expr) -> str | None:
    return root.id if isinstance(root, ast.Name) else None


class _Scanner(ast.NodeVisitor):
    """One pass over a module in source order, one scope per function."""

    def __init__(self, params: dict[tuple[str, int], str]) -> None:
        self.params = params  # (function, argument index) → type, from call sites
        self.found: set[str] = set()
        self.calls: dict[tuple[str, int], str] = {}
        self.scope: dict[str, str] = {}

    # -- types of expressions -------------------------------------------------------------------
    def type_of(self, node: ast.expr | None) -> str | None:
        if node is None:
            return None
        if isinstance(node, ast.Call):
            chain = _chain(node.func)
            if chain and _name(chain[0]) == "pyds":
                members = chain[1]
                if len(members) == 2 and members[1] == "cast":
                    return members[0]
                if len(members) == 1:
                    return RETURNS.get(members[0])
            return None
        chain = _chain(node)
        if chain is None:
            return None
        root, members = chain
        base = self._base(root)
        if base is None:
            return None
        return ".".join([base, *members]) if members else base

    def _base(self, root: ast.expr) -> str | None:
        """The type of a chain's root: a typed variable, or a call returning a pyds type."""
        if isinstance(root, ast.Call):
            return self.type_of(root)
        return self.scope.get(root.id) if isinstance(root, ast.Name) else None

    # -- recording ----------------------------------------------------------------------------------
    def _record(self, node: ast.expr) -> None:
        chain = _chain(node)
        if chain is None:
            return
        root, members = chain
        if not members:
            return
        if _name(root) == "pyds":
            self.found.add(".".join(["pyds", *members]))
            return
        base = self._base(root)
        if base is not None:
            self.found.add(".".join([base, *members]))

    def _visit_chain(self, node: ast.Attribute | ast.Subscript) -> None:
        self._record(node)  # the longest chain; its inner links need no record of their own
        inner: ast.expr = node
        while isinstance(inner, ast.Attribute | ast.Subscript):
            if isinstance(inner, ast.Subscript):
                self.visit(inner.slice)
            inner = inner.value
        self.visit(inner)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._visit_chain(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self._visit_chain(node)

    # -- scopes and bindings ------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        outer = self.scope
        self.scope = {}
        for index, arg in enumerate(node.args.args):
            known = self.params.get((node.name, index))
            if known is not None:
                self.scope[arg.arg] = known
        for statement in node.body:
            self.visit(statement)
        self.scope = outer

    def _bind(self, target: ast.expr, kind: str | None) -> None:
        if isinstance(target, ast.Name):
            if kind is None:
                self.scope.pop(target.id, None)
            else:
                self.scope[target.id] = kind
        else:
            self.visit(target)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        kind = self.type_of(node.value)
        for target in node.targets:
            self._bind(target, kind)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        kind = None
        if isinstance(node.iter, ast.Call):
            chain = _chain(node.iter.func)
            if chain and _name(chain[0]) == "pyds" and len(chain[1]) == 2 and chain[1][1] == "list":
                kind = LIST_OF.get(chain[1][0])
        self._bind(node.target, kind)
        for statement in node.body + node.orelse:
            self.visit(statement)

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name):
            for index, arg in enumerate(node.args):
                kind = self.type_of(arg)
                if kind is not None:
                    self.calls[(node.func.id, index)] = kind


def inventory(sources: dict[str, str]) -> set[str]:
    """The pyds entries used by ``sources`` (file name → Python text)."""
    trees = [ast.parse(text, filename=name) for name, text in sources.items()]
    params: dict[tuple[str, int], str] = {}
    found: set[str] = set()
    for _ in range(4):  # until parameter types stop changing (calls may precede definitions)
        found = set()
        calls: dict[tuple[str, int], str] = {}
        for tree in trees:
            scanner = _Scanner(params)
            scanner.visit(tree)
            found |= scanner.found
            calls.update(scanner.calls)
        if calls == params:
            break
        params = calls
    return found


def _git(repo_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo_dir), *args], check=True, capture_output=True, text=True
    ).stdout


def mirrored_sources(mirror: Path = MIRROR) -> dict[str, str] | None:
    """The apps' Python files from the mirror, or None when a repository is not mirrored."""
    sources: dict[str, str] = {}
    for repo, paths in APPS.items():
        repo_dir = mirror / repo.replace("/", "+") / "repo"
        if not repo_dir.is_dir():
            return None
        files = _git(repo_dir, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
        for path in paths:
            chosen = (
                [f for f in files if f.startswith(path) and f.endswith(".py")]
                if path.endswith("/")
                else [path]
            )
            for name in chosen:
                sources[f"{repo}:{name}"] = _git(repo_dir, "show", f"HEAD:{name}")
    return sources


def read_inventory_file(path: Path = INVENTORY_FILE) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def main() -> int:
    sources = mirrored_sources()
    if sources is None:
        print(f"the apps' repositories are not mirrored under {MIRROR}", file=sys.stderr)
        return 1
    entries = sorted(inventory(sources))
    header = [
        "# pyds API used by the seed's app and NVIDIA's deepstream_python_apps samples",
        "# (module paths, and member paths on pyds types). Regenerate with:",
        "#   python tests/unit/deepstream/pyds_inventory.py",
    ]
    INVENTORY_FILE.write_text("\n".join([*header, *entries]) + "\n", encoding="utf-8")
    print(f"{len(entries)} entries from {len(sources)} files → {INVENTORY_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
