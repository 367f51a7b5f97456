"""Training a network: the loop (`training.loop.train`), one step and its record (`step`), an epoch's
batches (`epoch`), the checkpoint, resume and random streams (`checkpoint`), the validation pass
(`validation`), the epoch lines and CSV logs (`log`) and the plots of those logs (`plots`).

Training never imports the scoring engine (`evaluate`) or the reports (`report`): its validation pass
counts pixels with the counter the scorer uses (`metrics.counting`).
"""
