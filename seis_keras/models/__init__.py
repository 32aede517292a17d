"""seis_keras.models."""
