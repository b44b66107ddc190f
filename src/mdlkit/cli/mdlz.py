"""``mdlz``: mdlkit's compressor with the habits of xz and zstd.

    mdlz [-z | -d | -t | -l] [-c] [-k | --rm] [-f] [-q | -v] [-1 … -6] [-T N] [--block-size SIZE]
         [--no-verify] [-V] [FILE ...]

- ``-z`` compresses (the default), ``-d`` decompresses, ``-t`` tests (decodes, checks every
  checksum, writes nothing), ``-l`` lists an archive's sizes, ratio, mode, level, blocks and
  check without decoding it: from a file it reads the header and the index at the end only;
  from a pipe it reads the whole archive in order (checking every record's CRC).
- ``-T N`` codes (and decodes, and verifies) the online mode's independent blocks with N worker
  processes (0: one per core; default 1); the archive is the same bytes for any N.
  ``--block-size SIZE`` (default 8M, from 256 bytes to 128M) sets the block: a file up to one block
  is coded as one model; smaller blocks let more workers share a file at some cost in size.
- ``FILE`` → ``FILE.mdlz`` and back; a name without the suffix is refused when decompressing
  and a name with it when compressing (``-f`` compresses it anyway). No FILE, or ``-``: standard
  input to standard output. ``-c`` writes to standard output.
- Inputs are kept (``-k`` says so explicitly); ``--rm`` removes each input once its output is
  complete and, for compression, verified.
- Levels: ``-1``, ``-2`` and ``-3`` are the online mode's levels 1 (16 segments in lockstep: a
  little faster, slightly larger), 2 (the default) and 3 (predictor cm5: 3.7–5.6 % smaller on
  text at about a fifth of the speed); ``-4``, ``-5`` and ``-6`` the two-part mode's levels
  1–3 (a byte transformer trained on the file: minutes, not seconds).
- ``-V`` prints mdlkit's version and the archive format it writes.
- Every problem is one line naming the file; the other files are still done, and the exit code
  is 2 if any failed (130 on Ctrl-C, which leaves no partial output).

Everything goes through the same code as ``mdlkit compress`` / ``decompress``
(:mod:`mdlkit.recipes.compress_file`): outputs are never harmed (:mod:`mdlkit.files`), archives
are verified before they are kept, and the online mode imports neither torch nor scikit-learn.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Literal

from mdlkit import __version__
from mdlkit.errors import MdlkitError

__all__ = ["main"]

SUFFIX = ".mdlz"
LEVELS: dict[int, tuple[Literal["online", "two-part"], int]] = {
    1: ("online", 1),
    2: ("online", 2),
    3: ("online", 3),
    4: ("two-part", 1),
    5: ("two-part", 2),
    6: ("two-part", 3),
}
EXIT_USAGE = 2
ARCHIVE_FORMAT = 5  # what --version names; compression.archive.FORMAT (tested equal) is heavier


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"mdlz: error: {message} (see 'mdlz --help')\n")
        raise SystemExit(EXIT_USAGE)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mdlz",
        description="Compress or decompress FILEs with mdlkit (.mdlz), like xz and zstd.",
        epilog="Levels: -1, -2, -3 online (fast, -2 the default, -3 smaller and slower); -4, -5, "
        "-6 two-part (trains a byte transformer on the file). With no FILE, or when FILE is -, "
        "read standard input.",
    )
    operation = parser.add_mutually_exclusive_group()
    for flag, name, text in (
        ("-z", "compress", "compress (the default)"),
        ("-d", "decompress", "decompress"),
        ("-t", "test", "test archives: decode them, check every checksum, write nothing"),
        (
            "-l",
            "list",
            "list archives' sizes, ratio, mode, level, blocks and check without "
            "decoding: a file's header and index only; standard input is read in order",
        ),
    ):
        operation.add_argument(flag, f"--{name}", dest="operation", action="store_const",
                               const=name, help=text)  # fmt: skip
    parser.add_argument("-c", "--stdout", action="store_true", help="write to standard output")
    keep = parser.add_mutually_exclusive_group()
    keep.add_argument("-k", "--keep", action="store_true", help="keep the inputs (the default)")
    keep.add_argument("--rm", action="store_true", help="remove each input once it is done")
    parser.add_argument("-f", "--force", action="store_true",
                        help="overwrite regular files; compress names ending in .mdlz")  # fmt: skip
    talk = parser.add_mutually_exclusive_group()
    talk.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    talk.add_argument("-v", "--verbose", action="store_true", help="progress bars too")
    for level, (mode, inner) in LEVELS.items():
        parser.add_argument(f"-{level}", dest="level", action="store_const", const=level,
                            help=f"{mode} mode, level {inner}")  # fmt: skip
    parser.add_argument("-T", "--threads", type=int, default=1, metavar="N",
                        help="worker processes for the online mode's blocks, on both "
                        "sides (0: one per core; default 1); the archive is the same for any "
                        "N")  # fmt: skip
    parser.add_argument("--block-size", default="8M", metavar="SIZE",
                        help="online mode: independent blocks of SIZE (default 8M; e.g. 256K, "
                        "1M): smaller blocks decode in parallel sooner, larger ones compress "
                        "better")  # fmt: skip
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip decoding each new archive back before keeping it")  # fmt: skip
    named = f"mdlz (mdlkit {__version__}, archive format {ARCHIVE_FORMAT})"
    parser.add_argument("-V", "--version", action="version", version=named)
    parser.add_argument("files", nargs="*", metavar="FILE")
    parser.set_defaults(operation="compress", level=2)
    return parser


def _one(args: argparse.Namespace, name: str) -> str:
    """Do the operation on one file; returns the line to print (empty for none)."""
    from mdlkit.recipes.compress_file import (
        CompressConfig,
        DecompressConfig,
        run_compress,
        run_decompress,
    )

    to_stdout = args.stdout or name == "-"
    progress = args.verbose and sys.stderr.isatty()
    if args.operation == "compress":
        if name.endswith(SUFFIX) and not args.force:
            raise MdlkitError(f"{name} already ends in {SUFFIX}; give -f to compress it again")
        mode, level = LEVELS[args.level]
        output = "-" if to_stdout else name + SUFFIX
        config = CompressConfig(name, output, mode, level, args.verify, args.force,
                                threads=args.threads, block_size=args.block_size)  # fmt: skip
        line = run_compress(config, progress=progress)
    elif args.operation == "decompress":
        if not to_stdout and not (name.endswith(SUFFIX) and len(name) > len(SUFFIX)):
            raise MdlkitError(f"{name} does not end in {SUFFIX}; rename it or give -c")
        output = "-" if to_stdout else name[: -len(SUFFIX)]
        config_d = DecompressConfig(name, output, args.force, threads=args.threads)
        line = run_decompress(config_d, progress=progress)
    elif args.operation == "test":
        return _test(name, args.threads)
    else:
        return _listing(name)
    if args.rm and not to_stdout:
        Path(name).unlink()
    return line


def _test(name: str, threads: int) -> str:
    from mdlkit.compression import decompress_stream

    class Discard:
        def write(self, data: bytes) -> int:
            return len(data)

    with _opened(name) as src:
        summary = decompress_stream(src, Discard(), threads=threads)  # type: ignore[arg-type]
    return f"{name}: OK, {summary.original_bytes:,} bytes, every checksum matched"


def _listing(name: str) -> str:
    from mdlkit.compression.archive_index import list_archive

    with _opened(name) as src:
        info = list_archive(src)
    return (
        f"{info.archive_bytes:>12,} {info.original_bytes:>14,} {info.ratio:>7.3f} "
        f"{info.header.mode:>9} {info.header.level:>5} {info.blocks:>6}  crc32={info.crc:08x}  "
        f"{name}"
    )


def _opened(name: str) -> contextlib.AbstractContextManager[BinaryIO]:
    if name == "-":
        return contextlib.nullcontext(sys.stdin.buffer)
    path = Path(name)
    if not path.is_file():
        raise MdlkitError(f"no such file: {name}" if not path.exists() else f"{name} is not a file")
    return path.open("rb")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mdlz`` console command; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help, or a usage error argparse has printed in one line
        return int(exc.code or 0) and EXIT_USAGE
    files = args.files or ["-"]
    if args.stdout and args.operation == "compress" and len(files) > 1:
        sys.stderr.write("mdlz: error: -c with several FILEs would join their archives; "
                         "compress them one at a time\n")  # fmt: skip
        return EXIT_USAGE
    if args.operation == "list" and not args.quiet:
        print(f"{'archive':>12} {'original':>14} {'ratio':>7} {'mode':>9} {'level':>5} "
              f"{'blocks':>6}  check           name")  # fmt: skip
    failed = False
    for name in files:
        try:
            line = _one(args, name)
        except MdlkitError as exc:
            sys.stderr.write(f"mdlz: {name}: {exc}\n")
            failed = True
            continue
        except KeyboardInterrupt:
            sys.stderr.write(f"mdlz: {name}: interrupted (nothing was written)\n")
            return 130
        if line and not args.quiet:
            stream = sys.stdout if args.operation == "list" else sys.stderr
            stream.write(line + "\n")
    return EXIT_USAGE if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
