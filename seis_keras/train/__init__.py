"""seis_keras.train."""
