"""Spark jobs of the sensor LSTM pipeline: each module is one spark-submit application."""
