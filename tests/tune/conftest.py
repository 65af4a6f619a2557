"""The tuning tests build their small corpora with the LM tests' reference helpers."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lm"))
