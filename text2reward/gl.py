"""An offscreen OpenGL backend for MuJoCo, chosen before MuJoCo is imported.

MuJoCo reads ``MUJOCO_GL`` (and PyOpenGL reads ``PYOPENGL_PLATFORM``) once, when imported.
Left unset on a Linux machine with no display, MuJoCo picks GLFW, which warns that DISPLAY is
missing and cannot render. :func:`use_offscreen_gl` picks EGL when an EGL display initialises
(a GPU's driver, or Mesa's software renderer, llvmpipe), else OSMesa when its library loads,
else leaves things as they were. A user's own ``MUJOCO_GL`` always wins, and so does a display.
Nothing here raises: a failed probe only means that backend is not chosen.
"""

from __future__ import annotations

import ctypes
import os
import sys
import warnings

BACKENDS = ("egl", "osmesa")
INSTALL_HINT = (
    "install an offscreen OpenGL library, e.g. on Debian/Ubuntu: "
    "apt-get install libegl1 libgl1-mesa-dri (EGL) or libosmesa6 (OSMesa)"
)

# EGL constants (EGL 1.5 and EGL_EXT_platform_device)
_EGL_SUCCESS = 0x3000
_EGL_NONE = 0x3038
_EGL_OPENGL_API = 0x30A2
_EGL_PLATFORM_DEVICE_EXT = 0x313F
# the config MuJoCo's EGL context asks for (mujoco/egl/__init__.py)
_EGL_CONFIG = (
    0x3024, 8,  # RED_SIZE
    0x3023, 8,  # GREEN_SIZE
    0x3022, 8,  # BLUE_SIZE
    0x3021, 8,  # ALPHA_SIZE
    0x3025, 24,  # DEPTH_SIZE
    0x3026, 8,  # STENCIL_SIZE
    0x303F, 0x308E,  # COLOR_BUFFER_TYPE: RGB_BUFFER
    0x3033, 0x0001,  # SURFACE_TYPE: PBUFFER_BIT
    0x3040, 0x0008,  # RENDERABLE_TYPE: OPENGL_BIT
    _EGL_NONE,
)

_chosen: str | None = None
_decided = False


def use_offscreen_gl() -> str | None:
    """Set ``MUJOCO_GL``/``PYOPENGL_PLATFORM`` for offscreen rendering; return the backend.

    Returns the backend in effect ("egl", "osmesa", the user's own choice), or None when the
    default is kept (a display is present, not Linux, or no offscreen library works here).
    Call it before MuJoCo is imported (at the latest before PyOpenGL is); calls after the
    first cost nothing.
    """
    global _chosen, _decided
    _quiet_glfw()
    if _decided:
        return _chosen
    _decided = True
    _chosen = _decide()
    return _chosen


def _decide() -> str | None:
    own = os.environ.get("MUJOCO_GL", "").strip().lower()
    if own:
        if own in BACKENDS:
            os.environ.setdefault("PYOPENGL_PLATFORM", own)
        return own
    if not sys.platform.startswith("linux"):
        return None  # macOS (CGL) and Windows (WGL) render offscreen without a display
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None  # GLFW works here, and may be faster than a software renderer
    if "OpenGL" in sys.modules:
        return None  # too late: PyOpenGL has fixed its platform (Gymnasium's MuJoCo renderer
        # reads MUJOCO_GL when it first renders, so MuJoCo itself may already be imported)
    platform = os.environ.get("PYOPENGL_PLATFORM", "").strip().lower()
    for backend, works in (("egl", _egl_works), ("osmesa", _osmesa_works)):
        if platform in ("", backend) and works():
            os.environ["MUJOCO_GL"] = backend
            os.environ["PYOPENGL_PLATFORM"] = backend
            return backend
    return None


def _load(*names: str):
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def _egl_works() -> bool:
    """Whether an EGL display on some device initialises and offers MuJoCo's config.

    The same steps as MuJoCo's EGL context up to the context itself, through ctypes, so
    nothing is imported; a few milliseconds (Mesa's llvmpipe device included)."""
    try:
        egl = _load("libEGL.so.1", "libEGL.so")
        if egl is None or _load("libOpenGL.so.0", "libOpenGL.so", "libGL.so.1", "libGL.so") is None:
            return False
        egl.eglGetProcAddress.restype = ctypes.c_void_p
        egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]
        query_at = egl.eglGetProcAddress(b"eglQueryDevicesEXT")
        display_at = egl.eglGetProcAddress(b"eglGetPlatformDisplayEXT")
        if not query_at or not display_at:
            return False
        query_devices = ctypes.CFUNCTYPE(
            ctypes.c_uint, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_int),
        )(query_at)
        platform_display = ctypes.CFUNCTYPE(
            ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p
        )(display_at)
        egl.eglGetError.restype = ctypes.c_int
        egl.eglInitialize.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        egl.eglInitialize.restype = ctypes.c_uint
        egl.eglTerminate.argtypes = [ctypes.c_void_p]
        egl.eglBindAPI.argtypes = [ctypes.c_uint]
        egl.eglBindAPI.restype = ctypes.c_uint
        egl.eglChooseConfig.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_int, ctypes.POINTER(ctypes.c_int),
        ]
        egl.eglChooseConfig.restype = ctypes.c_uint

        devices = (ctypes.c_void_p * 16)()
        count = ctypes.c_int(0)
        if not query_devices(16, devices, ctypes.byref(count)):
            return False
        attributes = (ctypes.c_int * len(_EGL_CONFIG))(*_EGL_CONFIG)
        for device in devices[: count.value]:
            display = platform_display(_EGL_PLATFORM_DEVICE_EXT, device, None)
            if not display or egl.eglGetError() != _EGL_SUCCESS:
                continue
            if not egl.eglInitialize(display, None, None):
                continue
            try:
                config = ctypes.c_void_p()
                found = ctypes.c_int(0)
                if (
                    egl.eglBindAPI(_EGL_OPENGL_API)
                    and egl.eglChooseConfig(
                        display, attributes, ctypes.byref(config), 1, ctypes.byref(found)
                    )
                    and found.value > 0
                ):
                    return True
            finally:
                egl.eglTerminate(display)
        return False
    except Exception:  # a library missing a symbol, or any other surprise: not usable
        return False


def _osmesa_works() -> bool:
    return _load("libOSMesa.so.8", "libOSMesa.so.6", "libOSMesa.so") is not None


def _quiet_glfw() -> None:
    """Hide GLFW's complaint about a missing display, should GLFW still be tried (e.g. a
    user's MUJOCO_GL=glfw); the renderer's own error still says what went wrong."""
    warnings.filterwarnings(
        "ignore", message=r".*(DISPLAY environment variable is missing|"
        r"GLFW library is not initialized)", module=r"glfw(\..*)?$",
    )
