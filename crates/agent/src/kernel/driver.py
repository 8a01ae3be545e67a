# warren-agent's stateful Python kernel: one request per line on stdin, one JSON reply per line on the
# original stdout. Each run's fd 1 and fd 2 go to unlinked temp files, so prints from C code and from
# subprocesses are captured too. Globals persist between runs, as in a notebook.
import ast, base64, json, os, sys, tempfile, traceback

_proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
_proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
_null = os.open(os.devnull, os.O_RDWR)
os.dup2(_null, 0)
os.dup2(_null, 1)
_files = (tempfile.TemporaryFile(), tempfile.TemporaryFile())
os.environ.setdefault("MPLBACKEND", "Agg")
_ns = {"__name__": "__main__", "__builtins__": __builtins__}
sys.stdout = os.fdopen(1, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)
sys.stderr = os.fdopen(2, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)


def _rich(value, reply):
    if value is not None:
        reply["result"] = repr(value)
        mod = type(value).__module__ or ""
        if mod.startswith("pandas") and hasattr(value, "to_html"):
            reply["html"] = value.to_html()
            data = json.loads(value.to_json(orient="split", date_format="iso"))
            reply["json"] = data
            reply["dataframe"] = data
        elif hasattr(value, "_repr_html_"):
            try:
                reply["html"] = value._repr_html_()
            except Exception:
                pass
        elif isinstance(value, (dict, list)):
            try:
                reply["json"] = json.loads(json.dumps(value))
            except (TypeError, ValueError):
                pass
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None and plt.get_fignums():
        import io

        buf = io.BytesIO()
        plt.figure(plt.get_fignums()[-1]).savefig(buf, format="png")
        plt.close("all")
        reply["png"] = base64.b64encode(buf.getvalue()).decode()


def _run(code, reply):
    tree = ast.parse(code, "<cell>", "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, "<cell>", "exec"), _ns)
    value = eval(compile(last, "<cell>", "eval"), _ns) if last is not None else None
    _rich(value, reply)


def _read(f, limit):
    f.seek(0)
    data = f.read(limit + 1)
    return data[:limit].decode("utf-8", "replace"), len(data) > limit


def _once(req):
    reply = {"success": True, "exit_code": 0}
    os.environ.clear()
    os.environ.update(req.get("env") or {})
    os.environ.setdefault("MPLBACKEND", "Agg")
    for i, f in enumerate(_files):
        f.seek(0)
        f.truncate()
        os.dup2(f.fileno(), i + 1)
    try:
        os.chdir(req.get("cwd") or ".")
        _run(req["code"], reply)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        reply.update(success=code == 0, exit_code=code)
    except BaseException as e:
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != "<cell>":
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb)
        reply.update(success=False, exit_code=1, error="%s: %s" % (type(e).__name__, e))
    finally:
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except Exception:
                pass
        os.dup2(_null, 1)
        os.dup2(_null, 2)
    limit = int(req.get("limit") or 1048576)
    reply["stdout"], t1 = _read(_files[0], limit)
    reply["stderr"], t2 = _read(_files[1], limit)
    reply["truncated"] = t1 or t2
    return reply


for _line in _proto_in:
    try:
        _reply = _once(json.loads(_line))
    except BaseException as _e:
        _reply = {"success": False, "exit_code": 1, "stdout": "", "stderr": "", "error": repr(_e)}
    _proto_out.write(json.dumps(_reply, default=str) + "\n")
    _proto_out.flush()
