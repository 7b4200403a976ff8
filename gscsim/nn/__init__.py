"""Neural building blocks shared by the learned transceivers (Swin stages, ...)."""
