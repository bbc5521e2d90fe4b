#!/usr/bin/env python3
"""Kept for old habits: the README and the guide are checked by scripts/guide-check.py."""

import os
import sys

script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guide-check.py")
os.execv(sys.executable, [sys.executable, script, *sys.argv[1:]])
