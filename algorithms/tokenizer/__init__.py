"""Frame tokenizers: frames <-> flat tokens for the sequence models (`frame_tokenizer.py`), and
their training (`fit.py`). Plain PyTorch, no Lightning."""
