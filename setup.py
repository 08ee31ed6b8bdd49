"""Build of the zippy Python package: the C extension zippy._native is
compiled together with the library sources (src/*.c), so `pip install .`
needs no prior `make` - only a C11 compiler and the libxxhash, libzip and
zlib development files."""
import glob
import os
import re

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def version():
    with open(os.path.join(HERE, "include", "zippy.h"), encoding="utf-8") as f:
        m = re.search(r'#define ZIPPY_VERSION_STRING "([^"]+)"', f.read())
    if not m:
        raise RuntimeError("ZIPPY_VERSION_STRING not found in include/zippy.h")
    return m.group(1)


# setuptools wants paths relative to this file's directory.
os.chdir(HERE)
sources = ["python/zippy/_native.c"] + sorted(glob.glob("src/*.c"))

native = Extension(
    "zippy._native",
    sources=sources,
    include_dirs=["include", "src"],
    libraries=["xxhash", "zip", "z", "pthread"],
    extra_compile_args=["-std=c11", "-D_GNU_SOURCE", "-O2", "-fvisibility=hidden",
                        "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
    depends=["include/zippy.h"] + sorted(glob.glob("src/*.h")),
)

setup(
    version=version(),
    package_dir={"": "python"},
    packages=["zippy"],
    ext_modules=[native],
    # not build/: the Makefile's
    options={"build": {"build_base": "build/python"}},
)
