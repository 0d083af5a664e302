"""Piecewise-linear activations described for the generic tests in test_activations.py."""

import torch.nn.functional as F
from activation_case import Case, policies_fixed

CASES = [
    Case("relu", F.relu, policies_fixed("mask", "output", "input"), kinks=lambda p: [0.0]),
]
