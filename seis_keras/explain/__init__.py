"""seis_keras.explain."""
