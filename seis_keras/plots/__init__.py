"""seis_keras.plots."""
