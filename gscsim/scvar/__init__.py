"""SCVAR, the control-conditioned visual autoregressive generator of TarGSC: the multi-scale
VQ-VAE and the VAR transformer it drives (gscsim/nn), depth and text conditioning, Text2Para,
their training commands and shipped configs."""
