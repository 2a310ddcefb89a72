"""Parameters of the invoice-export check (``InvoiceExportParams``), its name, the smoothing windows of the
mirror ratio, and the code-matching helper the pair and province signals share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...errors import ConfigError
from ..panels import value_code

CHECK = "invoice_export"
SMOOTH = {"M": 3, "Q": 1, "A": 1}


@dataclass(frozen=True)
class InvoiceExportParams:
    """Knobs of the invoice-export check (defaults in brackets).

    - ``bands`` [(1.4, 2.0)]: mirror-ratio bands; a finding needs the first, the detail names the highest crossed.
    - ``cif_margin`` [0.06]: imports are CIF; FOB = CIF / (1 + margin).
    - ``min_band_z`` [2.0]: a band crossing is reported when the ratio also stands this far above its history.
    - ``min_quantity_weight`` [0.25]: where both sides report quantities, the score is the z times the share of
      the value excess that is also a quantity excess (paper shipments inflate both; mispricing only the value),
      at least this weight.
    - ``history`` [{"M": 24, "Q": 8, "A": 6}] / ``min_history`` [{"M": 9, "Q": 4, "A": 3}]: trailing periods.
    - ``min_scale`` [0.05]: floor of the spread of the log ratio; ``share_scale`` [0.02]: floor of the spread of
      the quarter-opening share.
    - ``min_score`` [3.5]: province findings are reported at or above this score.
    - ``round_digits`` [2], ``round_window`` [12], ``round_base_rate`` [0.01]: a figure is round when it has at
      most ``round_digits`` significant digits; the expected rate is the provinces' pooled rate, at least the base.
    - ``fx_spread`` [None]: optional ((period, spread), ...) series, e.g. the onshore-offshore CNY spread; when
      given, each mirror finding reports the correlation of the pair's log ratio with it over the history window.
    - ``excess_floor`` [0.001], ``excess_score_cap`` [30]: floor of the spread of the provinces' sum minus the
      national total (a share of the national total), and the cap of the province-excess score.
    - ``include_estimated`` [False].
    """

    bands: tuple = (1.4, 2.0)
    cif_margin: float = 0.06
    min_band_z: float = 2.0
    min_quantity_weight: float = 0.25
    history: dict = field(default_factory=lambda: {"M": 24, "Q": 8, "A": 6})
    min_history: dict = field(default_factory=lambda: {"M": 9, "Q": 4, "A": 3})
    min_scale: float = 0.05
    share_scale: float = 0.02
    min_score: float = 3.5
    round_digits: int = 2
    round_window: int = 12
    round_base_rate: float = 0.01
    fx_spread: tuple | None = None
    include_estimated: bool = False
    excess_floor: float = 0.001
    excess_score_cap: float = 30.0
    signals: tuple = ("mirror_band", "quarter_opening", "decoupling", "round_numbers", "province_excess")

    def __post_init__(self):
        if not self.bands or any(b <= 1 for b in self.bands) or list(self.bands) != sorted(self.bands):
            raise ConfigError("invoice_export: bands must be increasing ratios above 1, e.g. [1.4, 2.0]")
        if self.cif_margin < 0 or self.min_scale <= 0 or self.share_scale <= 0:
            raise ConfigError("invoice_export: cif_margin >= 0, min_scale > 0 and share_scale > 0 are required")
        bad = set(self.signals) - {"mirror_band", "quarter_opening", "decoupling", "round_numbers",
                                   "province_excess"}
        if bad:
            raise ConfigError(f"invoice_export: unknown signal(s) {sorted(bad)}")



def _eq(codes: np.ndarray, uniq: pd.Index, value) -> np.ndarray:
    return codes == value_code(uniq, value)
