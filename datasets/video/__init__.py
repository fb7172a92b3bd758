"""Video datasets: Atari (ale-py) and crafter frames, actions as given channels, frames as tokens
through a tokenizer the experiment hands in (datamodule.py)."""
