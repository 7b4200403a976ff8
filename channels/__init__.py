"""Complex-baseband channels (installed as `gscsim.channels`): AWGN and flat fading with a
receiver front-end (perfect or pilot-estimated CSI, ZF or MMSE equalisation)."""
