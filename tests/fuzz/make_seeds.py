"""Writes the seed corpora of the fuzz targets: valid inputs of every form each parser reads and
the edge cases next to them, so that fuzzing starts from deep inside the parsers.

    python3 tests/fuzz/make_seeds.py

Each file goes to tests/fuzz/corpus/<target>/seed-<name>; files named regression-* there are
inputs that broke a parser, kept as fuzzing found them. Inputs of the csv and idx
targets start with option bytes (see tests/parser_checks.h)."""

import gzip
import json
import pathlib
import struct

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"
ROOT = CORPUS.parent.parent.parent


def write(target, name, data):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"seed-{name}").write_bytes(data.encode() if isinstance(data, str) else data)


# ----- CSV: byte 0 = delimiter (0 ',', 1 ';', 2 tab, 3 byte 1) | 4 no header | label mode << 3
# (0 last column, 1 none, 2 column byte1 % 4, 3 the column named "species"); byte 1 = custom
# delimiter or label index.

def csv(name, mode, text, byte1=","):
    write("csv", name, bytes([mode, ord(byte1)]) + (text.encode() if isinstance(text, str) else text))


IRIS = (ROOT / "data" / "iris.csv").read_text().splitlines()
IRIS_SAMPLE = "\n".join(IRIS[:6] + IRIS[51:54] + IRIS[101:104]) + "\n"
csv("iris", 0x00, IRIS_SAMPLE)
csv("iris-by-name", 0x18, IRIS_SAMPLE)
csv("iris-label-first", 0x10, "species,a,b\nsetosa,1,2\nvirginica,3,4\n", "\x00")
csv("numeric-label", 0x00, "x,y,target\n1,2,0.5\n3,4,-1e3\n5,6,7\n")
csv("no-label", 0x08, "a,b,c\n1,2,3\n4,5,6\n")
csv("no-header", 0x04, "1,2,a\n3,4,b\n5,6,a\n")
csv("no-header-no-label", 0x0C, "1.5,2\n3,4e-3\n")
csv("semicolon", 0x01, "a;b;label\n1,5;2;x\n3;4;y\n")
csv("tab", 0x02, "a\tb\tlabel\n1\t2\tx\n3\t4\ty\n")
csv("pipe", 0x03, "a|b|label\n1|2|x\n3|4|y\n", "|")
csv("space-delimiter", 0x03, "a b label\n1 2 x\n", " ")
csv("quoted", 0x00, '"a,1","b ""2""",label\n1,2,"set, osa"\n3,4,"multi\nline"\n')
csv("quoted-numbers", 0x00, 'a,b,c\n"1","2",x\n " 3 " ,4,y\n')
csv("crlf-bom", 0x00, b"\xef\xbb\xbfa,b,c\r\n1,2,x\r\n3,4,y\r\n")
csv("blank-lines", 0x00, "a,b,c\n\n1,2,x\n\n\n3,4,y\n\n")
csv("spaces", 0x00, "a , b , c\n 1 , 2 , x \n\t3\t,4,  y\n")
csv("utf8-names", 0x00, "länge,größe,art\n1,2,blüte\n3,4,käfer\n")
csv("many-classes", 0x00, "v,c\n" + "".join(f"{i},class{i}\n" for i in range(40)))
csv("exotic-numbers", 0x00, "a,b,c\n1e-45,0x1p3,x\n-0,.5,y\n+7,1E+2,z\n")
csv("not-finite", 0x00, "a,b,c\n1e40,2,x\nnan,inf,y\n")
csv("empty", 0x00, "")
csv("header-only", 0x00, "a,b,c\n")
csv("ragged", 0x00, "a,b,c\n1,2\n3,4,5,6\n")
csv("unterminated-quote", 0x00, 'a,b\n"1,2\n')
csv("text-after-quote", 0x00, 'a,b\n"1"x,2\n')
csv("nul-byte", 0x00, b"a,b\n1,\x002\n")
csv("empty-label", 0x00, "a,b\n1,\n2,x\n")
csv("one-column", 0x00, "label\nx\ny\n")
csv("bad-delimiter", 0x03, "a\"b\n1\"2\n", '"')

# ----- safetensors

def safetensors(header, data=b"", pad=True):
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-(8 + len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + data


for fixture in ("torch_model", "torch_tensors"):
    write("safetensors", fixture, (ROOT / "tests" / "fixtures" / f"{fixture}.safetensors").read_bytes())
write("safetensors", "every-dtype", safetensors(
    {"f32": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
     "f64": {"dtype": "F64", "shape": [1], "data_offsets": [8, 16]},
     "i32": {"dtype": "I32", "shape": [2, 1], "data_offsets": [16, 24]},
     "i64": {"dtype": "I64", "shape": [], "data_offsets": [24, 32]},
     "u8": {"dtype": "U8", "shape": [3], "data_offsets": [32, 35]}},
    struct.pack("<2fd2iq", 1.5, -2, 3.25, 7, -8, 9) + b"\x01\x02\xff"))
write("safetensors", "empty-tensor", safetensors(
    {"empty": {"dtype": "F32", "shape": [0, 3], "data_offsets": [0, 0]},
     "one": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, struct.pack("<f", 1)))
write("safetensors", "metadata-only", safetensors({"__metadata__": {"format": "pt", "k": "é"}}))
write("safetensors", "empty-header", safetensors({}, pad=False))
write("safetensors", "cgrad-model", safetensors(
    {"__metadata__": {"format": "cgrad", "format_version": "1",
                      "architecture": "input 2\ndense 1\n", "loss": "mse", "metrics": "mae",
                      "optimizer": "sgd", "user.note": "hi"},
     "0.weight": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]},
     "0.bias": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}},
    struct.pack("<3f", 0.5, -0.5, 0.1)))
write("safetensors", "overlap", safetensors(
    {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
     "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4))
write("safetensors", "truncated-length", b"\x10\x00\x00")
write("safetensors", "huge-header-length", struct.pack("<Q", 1 << 40) + b"{}")

# ----- JSON

for name, value in {
    "object": '{"a": 1, "b": [true, false, null], "c": {"d": "e"}}',
    "safetensors-header": json.dumps({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                                      "__metadata__": {"architecture": "input 3\ndense 2\n"}}),
    "escapes": r'["\"\\\/\b\f\n\r\t", "\u00e9\u20ac\ud83d\ude00", "ünïcödé 😀"]',
    "integers": "[0, -0, 1, -1, 9223372036854775807, -9223372036854775808, 123456789]",
    "empty-containers": '[{}, [], "", [[]], {"": {}}]',
    "deep": "[" * 31 + "]" * 31,
    "too-deep": "[" * 33 + "]" * 33,
    "whitespace": ' \t\n\r{ "a" :\n[ 1 ,\t2 ] }\r\n ',
    "duplicate-key": '{"a": 1, "a": 2}',
    "fraction": "[1.5]",
    "overflow": "[9223372036854775808]",
    "leading-zero": "[01]",
    "nul-escape": r'["\u0000"]',
    "lone-surrogate": r'["\udc00"]',
    "invalid-utf8": b'["\xc3\x28"]',
    "trailing": "{} {}",
    "scalar": "true",
}.items():
    write("json", name, value)

# ----- model specs

for name, text in {
    "every-layer": "input 4\ndense 8 relu\nbatchnorm\ndropout 0.25\nactivation tanh\n"
                   "dense 3 softmax no_bias\n",
    "images": "input 1 4 4\nflatten\ndense 6 gelu\nleaky_relu\ndense 2 sigmoid\n",
    "activations": "input 3\nrelu\nsigmoid\ntanh\nsoftmax\nleaky_relu\ngelu\nnone\n",
    "unbuilt": "dense 5\nrelu\ndense 1\n",
    "comments": "# a model\ninput 2 # two features\n\n  dense   4\t relu # hidden\ndense 1\n",
    "batchnorm-images": "input 2 3 3\nbatchnorm\nflatten\ndense 2\n",
    "crlf": "input 2\r\ndense 2\r\n",
    "bad-rate": "input 2\ndropout 1\n",
    "bad-units": "input 2\ndense -3\n",
    "late-input": "dense 2\ninput 3\n",
    "unknown": "input 2\nconvolution 3\n",
    "large-sizes": "input 9223372036854775807 2\nflatten\n",
    "convolutions": "input 1 8 8\nconv2d 4 3 padding=same relu\nmaxpool 2\n"
                    "conv2d 6 3 stride=2 padding=valid tanh no_bias\nglobalavgpool\ndense 3\n",
    "pooling": "input 2 6 6\navgpool 3\nconv2d 2 1\nbatchnorm\nflatten\ndense 2 softmax\n",
    "conv-too-large-kernel": "input 1 4 4\nconv2d 2 5\n",
    "conv-repeated-option": "input 1 4 4\nconv2d 2 3 stride=1 stride=2\n",
}.items():
    write("spec", name, text)

# ----- IDX: byte 0 bit 0 = a label file follows; bytes 1-2 = where it starts (little-endian).

def idx_file(dims, data, dtype=0x08):
    return bytes([0, 0, dtype, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def idx(name, images, labels=None):
    split = len(images)
    head = bytes([1 if labels is not None else 0, split & 0xFF, split >> 8 & 0xFF])
    write("idx", name, head + images + (labels or b""))


IMAGES = idx_file([3, 4, 4], bytes(range(48)))
LABELS = idx_file([3], bytes([0, 2, 1]))
idx("images-and-labels", IMAGES, LABELS)
idx("images", IMAGES)
idx("gzip", gzip.compress(IMAGES, mtime=0), gzip.compress(LABELS, mtime=0))
idx("vectors", idx_file([4], bytes([1, 2, 3, 4])))
idx("matrix", idx_file([2, 3], bytes(6)), idx_file([2], bytes([9, 0])))
idx("four-dims", idx_file([2, 1, 2, 2], bytes(range(8))))
idx("truncated", idx_file([3, 4, 4], bytes(10)))
idx("trailing", IMAGES + b"extra")
idx("floats", idx_file([2], struct.pack(">2f", 1, 2), 0x0D))
idx("label-count", IMAGES, idx_file([2], bytes([0, 1])))
idx("zero-dim", idx_file([0, 4], b""))
idx("truncated-gzip", gzip.compress(IMAGES, mtime=0)[:30])

# ----- the tool's flag parser: arguments separated by NUL bytes

for name, arguments in {
    "train": ["--data", "iris.csv", "--epochs", "50", "--optimizer=adam", "--learning-rate",
              "1e-3", "--weight-decay=0", "--validation-split", "0.2", "--seed", "42", "--quiet"],
    "help": ["--data", "x", "--help"],
    "missing-required": ["--epochs", "3"],
    "missing-value": ["--data", "x", "--epochs", "--quiet"],
    "bad-values": ["--data", "x", "--epochs", "0", "--learning-rate", "nan",
                   "--validation-split=1", "--seed=-1", "--optimizer", "lbfgs"],
    "switch-with-value": ["--data=x", "--quiet=yes"],
    "stray": ["--data", "x", "extra"],
}.items():
    write("cli_args", name, "\0".join(arguments))

# ----- model files and training checkpoints, written by the built tool (CGRAD names it; the
# model seeds are skipped without it): python3 tests/fuzz/make_seeds.py with CGRAD=build/cgrad

import os
import subprocess
import tempfile

TOOL = os.environ.get("CGRAD")
if TOOL:
    MODELS = ROOT / "examples" / "models"
    with tempfile.TemporaryDirectory() as scratch:
        def train(name, spec, *flags, output="--save"):
            path = pathlib.Path(scratch) / name
            subprocess.run([TOOL, "train", "--model", str(MODELS / spec), "--data",
                            str(ROOT / "data" / "iris.csv"), "--quiet", "--threads", "1",
                            *flags, output, str(path)], check=True, stdout=subprocess.DEVNULL)
            write("model", name, path.read_bytes())

        train("iris-single-layer", "iris_single_layer.cfg", "--epochs", "1")
        train("iris-mlp-sgd", "iris_mlp.cfg", "--epochs", "1", "--optimizer", "sgd",
              "--momentum", "0.9")
        train("checkpoint-adam", "iris_single_layer.cfg", "--epochs", "2", "--checkpoint-every",
              "2", output="--checkpoint")
        train("checkpoint-rmsprop-early-stopping", "iris_single_layer.cfg", "--epochs", "1",
              "--optimizer", "rmsprop", "--momentum", "0.5", "--early-stopping", "2",
              output="--checkpoint")
