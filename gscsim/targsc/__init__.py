"""TarGSC: text-parameterised autoregressive generative semantic communication (the transceiver,
its depth estimator, feature codec and text-parameter decoder, and their training)."""
