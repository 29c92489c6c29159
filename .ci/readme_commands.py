#!/usr/bin/env python3
"""Print the README's set-up command with the given name ('main' or 'tests').

The README marks each of its two commands with an HTML comment `<!-- ci:NAME -->` on the line before a ```sh
block; CI runs exactly what is printed here, so the README and CI cannot drift apart.
"""
import re, sys
from pathlib import Path

text = (Path(__file__).resolve().parent.parent / 'README.md').read_text()
name = sys.argv[1]
match = re.search(r'<!-- ci:' + re.escape(name) + r' -->\s*```(?:sh|bash)\n(.*?)\n```', text, re.S)
if not match: sys.exit(f'README.md has no command marked <!-- ci:{name} -->')
print(match.group(1).strip())
