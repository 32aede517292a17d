"""seis_keras.recipes."""
