"""Complex-baseband channels with their receiver front-ends (installed as `gscsim.channels`):
AWGN, flat fading (Rayleigh block and fast, Rician; perfect or pilot-estimated CSI, ZF or MMSE
equalisation) and Sionna's 3GPP TDL/CDL models over OFDM."""
