"""seis_keras.data."""
