"""The sandbox's audit hook for Python workers: early, readable PermissionErrors.

This is NOT a security boundary (python/cpython#87604): code that reaches native code, or that
patches the interpreter's modules, gets past it. On Linux the kernel layers (Landlock, seccomp) are
the boundary; this hook only makes refusals clear and covers what those layers cannot see (imports).

install(writable_roots, allow_network, allow_subprocess, blocked_imports) adds one hook with
sys.addaudithook (hooks cannot be removed) that raises PermissionError for:
- opening a file for writing, creating, truncating, appending, and the os/shutil events that change
  the file system (remove, rename, mkdir, rmdir, link, symlink, chmod, chown, utime, xattrs...),
  when a path lies outside the writable roots (os.devnull is always writable);
- without network: every socket.* event, except creating an AF_UNIX socket object (what
  socket.socketpair() does); connecting or binding it is refused;
- without subprocesses: subprocess.Popen, os.system, os.exec*, os.spawn*, os.posix_spawn*, os.fork,
  os.forkpty, pty.spawn, os.startfile, webbrowser.open;
- with ctypes or _ctypes blocked: every ctypes.* event;
- importing a blocked module or any of its submodules (blocked modules already imported are
  dropped from sys.modules at install).

Against tampering, as far as Python allows: the hook keeps its state and the functions it calls in
default arguments (immutable tuples and frozensets; builtins captured at install), and refuses to
let __code__, __defaults__ or __kwdefaults__ of its own functions (or of any function, for
__code__) be replaced. Paths are resolved with captured os primitives, symlinks included.
"""


def install(writable_roots, allow_network, allow_subprocess, blocked_imports):
    """Adds the sandbox audit hook to this interpreter; see the module docstring."""
    import os
    import stat
    import sys

    sep = os.sep
    on_posix = os.name == "posix"
    encoding = sys.getfilesystemencoding()

    def join(base, name, _sep=sep):
        return base + name if base.endswith(_sep) else base + _sep + name

    def resolve(path, dir_fd=None, _fspath=os.fspath, _isinstance=isinstance, _str=str,
                _bytes=bytes, _int=int, _getcwd=os.getcwd, _lstat=os.lstat,
                _readlink=os.readlink, _islnk=stat.S_ISLNK, _sep=sep, _posix=on_posix,
                _abspath=os.path.abspath, _realpath=os.path.realpath, _normcase=os.path.normcase,
                _encoding=encoding, _join=join):
        """The absolute, symlink-free path, or None for an open descriptor (already checked)."""
        if _isinstance(path, _int):
            return None
        path = _fspath(path)
        if _isinstance(path, _bytes):
            path = path.decode(_encoding, "surrogateescape")
        if not _posix:
            return _normcase(_realpath(_abspath(path)))
        if not path.startswith(_sep):
            if _isinstance(dir_fd, _int) and dir_fd >= 0:
                # Raises OSError where /proc is missing: then the path cannot be judged.
                path = _join(_readlink("/proc/self/fd/%d" % dir_fd), path)
            else:
                path = _join(_getcwd(), path)
        pending = path.split(_sep)
        pending.reverse()
        parts = []
        links = 0
        while pending:
            part = pending.pop()
            if part == "" or part == ".":
                continue
            if part == "..":
                if parts:
                    parts.pop()
                continue
            candidate = _sep + _sep.join(parts + [part])
            try:
                mode = _lstat(candidate).st_mode
            except OSError:
                parts.append(part)
                continue
            if _islnk(mode):
                links += 1
                if links > 40:
                    raise PermissionError("sandbox: too many symbolic links in %r" % (path,))
                target = _readlink(candidate).split(_sep)
                if target[0] == "":
                    parts = []
                target.reverse()
                pending.extend(target)
                continue
            parts.append(part)
        return _sep + _sep.join(parts)

    def prefix(root, _sep=sep):
        return root if root.endswith(_sep) else root + _sep

    roots = tuple((r, prefix(r)) for r in (resolve(root) for root in writable_roots) if r)
    devnull = resolve(os.devnull)

    def inside(path, dir_fd=None, _roots=roots, _devnull=devnull, _resolve=resolve):
        """Whether writing `path` is allowed."""
        try:
            resolved = _resolve(path, dir_fd)
        except (OSError, TypeError, ValueError):
            return False
        if resolved is None or resolved == _devnull:
            return True
        for root, root_prefix in _roots:
            if resolved == root or resolved.startswith(root_prefix):
                return True
        return False

    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    # Event -> the (index of a path that must lie inside the roots, index of its dir_fd or None).
    path_events = (
        ("os.remove", ((0, 1),)),
        ("os.rmdir", ((0, 1),)),
        ("os.mkdir", ((0, 2),)),
        ("os.rename", ((0, 2), (1, 3))),
        ("os.link", ((0, 2), (1, 3))),
        ("os.symlink", ((1, 2),)),
        ("os.truncate", ((0, None),)),
        ("os.chmod", ((0, 2),)),
        ("os.chown", ((0, 3),)),
        ("os.utime", ((0, 3),)),
        ("os.setxattr", ((0, None),)),
        ("os.removexattr", ((0, None),)),
        ("os.chflags", ((0, None),)),
        ("os.lchflags", ((0, None),)),
        ("shutil.copyfile", ((1, None),)),
        ("shutil.copymode", ((1, None),)),
        ("shutil.copystat", ((1, None),)),
        ("shutil.copytree", ((1, None),)),
        ("shutil.move", ((0, None), (1, None))),
        ("shutil.rmtree", ((0, None),)),
        ("shutil.chown", ((0, None),)),
        ("shutil.make_archive", ((0, None),)),
        ("shutil.unpack_archive", ((1, None),)),
    )
    process_events = frozenset((
        "subprocess.Popen", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
        "os.forkpty", "pty.spawn", "os.startfile", "os.startfile/2", "webbrowser.open",
    ))
    blocked = frozenset(str(name) for name in blocked_imports)
    ctypes_blocked = "ctypes" in blocked or "_ctypes" in blocked
    marker = resolve.__code__.co_filename

    try:
        import _socket
        af_unix = getattr(_socket, "AF_UNIX", None)
    except ImportError:
        af_unix = None

    def hook(event, args, _path_events=path_events,
             _path_event_names=frozenset(name for name, _ in path_events), _inside=inside,
             _write_flags=write_flags, _isinstance=isinstance, _str=str, _int=int, _len=len,
             _getattr=getattr,
             _network=bool(allow_network), _subprocess=bool(allow_subprocess),
             _process_events=process_events, _blocked=blocked, _ctypes=ctypes_blocked,
             _af_unix=af_unix, _marker=marker,
             _deny=PermissionError):
        if event == "open":
            path, mode, flags = args
            writes = (_isinstance(mode, _str) and ("w" in mode or "a" in mode or "x" in mode
                                                   or "+" in mode)) or \
                (_isinstance(flags, _int) and flags & _write_flags)
            if writes and not _inside(path):
                raise _deny("sandbox: writing %r is outside the writable roots" % (path,))
            return
        if event == "import":
            name = args[0]
            if _isinstance(name, _str) and name.partition(".")[0] in _blocked:
                raise _deny("sandbox: importing %r is blocked" % (name,))
            return
        if event == "object.__setattr__":
            target, name = args[0], args[1]
            code = _getattr(target, "__code__", None) if name in (
                "__code__", "__defaults__", "__kwdefaults__") else None
            if code is not None and (name == "__code__" or
                                     _getattr(code, "co_filename", None) == _marker):
                raise _deny("sandbox: replacing %s of a function is blocked" % (name,))
            return
        if not _network and event.startswith("socket."):
            if event == "socket.__new__" and _len(args) > 1 and args[1] == _af_unix:
                return
            raise _deny("sandbox: network access (%s) is blocked" % (event,))
        if not _subprocess and event in _process_events:
            raise _deny("sandbox: starting processes (%s) is blocked" % (event,))
        if _ctypes and event.startswith("ctypes."):
            raise _deny("sandbox: ctypes (%s) is blocked" % (event,))
        if event in _path_event_names:
            for known, checks in _path_events:
                if event != known:
                    continue
                for path_at, dir_fd_at in checks:
                    if path_at >= _len(args):
                        continue
                    dir_fd = args[dir_fd_at] if dir_fd_at is not None and dir_fd_at < _len(args) \
                        else None
                    if not _inside(args[path_at], dir_fd):
                        raise _deny("sandbox: %s of %r is outside the writable roots"
                                    % (event, args[path_at]))
                return

    for name in list(sys.modules):
        if name.partition(".")[0] in blocked:
            del sys.modules[name]
    sys.addaudithook(hook)
