"""Reading the data: file rules and readers (`data.files`, torch-free), datasets and loaders (`data.datasets`,
`data.loaders`), the train/validation split (`data.split`), the synthetic demo data (`data.demo`) and the PASCAL-S
layout (`data.pascal_s`). Import from those modules: this package imports nothing, so that the torch-free
evaluator can read files through `data.files` without loading torch."""
