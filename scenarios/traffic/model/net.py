"""The detector: a small CenterNet-style CNN whose ONNX graph speaks the seed's RT-DETR contract.

Why this shape:

* The contract fixes a 640×640 input, but CPU training time scales with pixels. The first
  operation is a 2×2 average pool, so the network costs what a 320×320 network costs, and the
  training set can store frames already pooled (exactly the same numbers).
* Vehicles range from 5 px motorcycles near the horizon to 330 px buses under the camera. A
  short encoder to 1/16 (of 320) gives the large receptive field the big ones need; a top-down
  path with lateral connections brings that context back to the 80×80 output grid (stride 8 in
  the 640×640 input), which is fine enough for the small ones.
* CenterNet heads — a per-class heatmap, the centre's sub-cell offset and log box size — need
  no anchors and no NMS: a 3×3 max-pool keeps local peaks, and the top 300 peaks *are* the
  detections, which is the DeepStream-Yolo RT-DETR output layout (``[B, 300, 6]``, sorted).
  :class:`ExportedDetector` puts that decode inside the graph.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 640
STRIDE = 8  # output grid cell, in pixels of the 640×640 input
MAX_DETECTIONS = 300
LOG_SIZE_LIMIT = math.log(INPUT_SIZE / STRIDE) + 1.0  # keeps exp() finite on nonsense inputs
HEAT_PRIOR = 0.01  # initial heatmap probability: most cells are background
NOT_A_PEAK = -1.0e4  # logit given to cells that are not local maxima (score 0)


@dataclass(frozen=True)
class NetConfig:
    """Widths of the network; model B uses wider stages than model A."""

    classes: int
    stem: int = 16
    widths: tuple[int, int, int] = (32, 64, 96)  # at 1/4, 1/8, 1/16 of the pooled 320×320 image
    head: int = 32

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class CenterNet(nn.Module):
    """The trainable part: pooled 320×320 image → heat logits ``[B, C, 80, 80]`` and box ``[B, 4, 80, 80]``.

    Box channels: offset x, offset y of the centre from the cell's corner (cells), log width,
    log height (cells).
    """

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.config = config
        s, (c4, c8, c16), h = config.stem, config.widths, config.head
        self.stem = _conv(3, s, 2)  # 160
        self.down4 = nn.Sequential(_conv(s, c4, 2), _conv(c4, c4))  # 80
        self.down8 = nn.Sequential(_conv(c4, c8, 2), _conv(c8, c8))  # 40
        self.down16 = nn.Sequential(_conv(c8, c16, 2), _conv(c16, c16), _conv(c16, c16))  # 20
        self.lateral8 = nn.Conv2d(c8, c16, 1)
        self.up8 = _conv(c16, c8)
        self.lateral4 = nn.Conv2d(c4, c8, 1)
        self.up4 = _conv(c8, h)
        self.heat = nn.Sequential(_conv(h, h), nn.Conv2d(h, config.classes, 1))
        self.box = nn.Sequential(_conv(h, h), nn.Conv2d(h, 4, 1))
        nn.init.constant_(self.heat[-1].bias, -math.log((1 - HEAT_PRIOR) / HEAT_PRIOR))

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x4 = self.down4(self.stem(pooled))
        x8 = self.down8(x4)
        x16 = self.down16(x8)
        y = self.up8(F.interpolate(x16, scale_factor=2.0, mode="nearest") + self.lateral8(x8))
        y = self.up4(F.interpolate(y, scale_factor=2.0, mode="nearest") + self.lateral4(x4))
        return self.heat(y), self.box(y)


class ExportedDetector(nn.Module):
    """640×640 RGB in [0, 1] → ``[B, 300, 6]`` rows ``x1, y1, x2, y2, score, class`` (sorted).

    Everything DeepStream's RT-DETR parser expects happens in the graph: the 2× pool, 3×3
    max-pool peak selection, top-300 over classes × cells, sigmoid scores, and boxes in input pixels
    (clipped to the image). The batch dimension stays symbolic through every reshape.
    """

    def __init__(self, net: CenterNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        logits, box = self.net(F.avg_pool2d(image, 2))
        rows, cols = logits.shape[2], logits.shape[3]
        cells = rows * cols
        # Peaks and ranking on logits, not probabilities: a confident model saturates the sigmoid
        # at exactly 1.0 in float32, and tied scores would leave the order to each runtime's TopK.
        peaks = F.max_pool2d(logits, 3, stride=1, padding=1)
        logits = torch.where(peaks == logits, logits, torch.full_like(logits, NOT_A_PEAK))
        best, index = torch.topk(logits.flatten(1), MAX_DETECTIONS, dim=1)
        # Sort once more after the sigmoid: a vectorised sigmoid is not monotonic to the last bit
        # (ONNX Runtime's can invert two nearly equal scores), and the contract promises order.
        scores, order = torch.topk(torch.sigmoid(best), MAX_DETECTIONS, dim=1)
        index = torch.gather(index, 1, order)
        class_id = torch.div(index, cells, rounding_mode="floor")
        cell = index - class_id * cells
        row = torch.div(cell, cols, rounding_mode="floor")
        col = cell - row * cols
        picked = torch.gather(box.flatten(2), 2, cell.unsqueeze(1).expand(-1, 4, -1))  # [B, 4, 300]
        cx = (col.to(picked.dtype) + picked[:, 0]) * STRIDE
        cy = (row.to(picked.dtype) + picked[:, 1]) * STRIDE
        size = torch.exp(picked[:, 2:4].clamp(max=LOG_SIZE_LIMIT)) * STRIDE
        half_w, half_h = size[:, 0] / 2, size[:, 1] / 2
        corners = torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dim=2)
        corners = corners.clamp(0.0, float(INPUT_SIZE))
        return torch.cat([corners, scores.unsqueeze(2), class_id.to(corners.dtype).unsqueeze(2)], dim=2)
