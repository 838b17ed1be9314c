"""The lowering functions of every operator the AOT engine compiles, one module per family; importing the
package registers them (pipeline/compiler/registry.py)."""
from pipeline.compiler.ops import (activations, binary, conv, movement, quantization, reduce,  # noqa: F401
                                   shape)
