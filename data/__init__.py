"""Datasets, transforms, the train/validation split and the synthetic demo data."""
from data.datasets import (
    DataError, InferenceSet, TrainingSet, collate_inference, list_stems, pair_files, pair_split,
    require_dir,
)
from data.demo import DEMO_TEST_SETS, make_demo_dataset
from data.loaders import inference_loader, training_loader
from data.split import load_or_make_split

__all__ = [
    "DEMO_TEST_SETS", "DataError", "InferenceSet", "TrainingSet", "collate_inference", "inference_loader",
    "list_stems", "load_or_make_split", "make_demo_dataset", "pair_files", "pair_split", "require_dir", "training_loader",
]
