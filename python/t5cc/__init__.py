"""t5cc: T5, Flan-T5, mT5 and UMT5 inference in C++ (the libt5cc library), from Python.

    import t5cc
    m = t5cc.load("examples/models/numbers")         # a HuggingFace folder or one weights file
    states = m.encode(["42", "1999"])                 # numpy float32 [batch, length, d_model]
    m.generate(["42"])                                # ['forty-two']

Errors of the library raise t5cc.Error, whose `code` names the kind (InvalidArgument, Io, ...).
The GIL is released while a model works: threads may call one model at once.
"""
from ._core import Error, Model, Tokenizer, cpu_kernels, have_cuda, inspect, load, version

__version__ = version()
__all__ = ["Error", "Model", "Tokenizer", "cpu_kernels", "have_cuda", "inspect", "load", "version", "__version__"]
