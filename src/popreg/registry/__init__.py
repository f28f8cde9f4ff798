"""The national population register: persons, their PINs, households and residence."""
