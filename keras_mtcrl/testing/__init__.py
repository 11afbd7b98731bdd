"""Test utilities: the project TestCase and fixture writers."""

from keras_mtcrl.testing.test_case import TestCase

__all__ = ["TestCase"]
