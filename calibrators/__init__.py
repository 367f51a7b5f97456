"""Post-hoc calibrators: fitted on held-out validation images after training, applied to a frozen
network's logits (temperature scaling, local temperature scaling)."""
