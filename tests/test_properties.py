"""Property-based tests (hypothesis) for the two parsers that read untrusted bytes on the host: the serial frame
codec (pipeline/device/protocol.py) and the .tflite reader (pipeline/int8/tflite_file.py). Bounded and seeded by
hypothesis's database-free derandomize, so they are fast and repeatable."""
import flatbuffers
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

from pipeline.device import protocol as P
from pipeline.errors import PipelineError
from pipeline.int8.tflite_file import read_model

BOUNDED = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow])

frames = st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=P.MAX_PAYLOAD))
small_frames = st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=64))


@pytest.mark.slow
@BOUNDED
@given(frames)
def test_encode_decode_round_trip(frame):
    msg_type, seq, payload = frame
    assert P.Decoder().feed(P.encode(msg_type, seq, payload)) == [P.Frame(msg_type, seq, payload)]


@BOUNDED
@given(st.lists(small_frames, min_size=1, max_size=5), st.integers(1, 64))
def test_any_chunking_gives_the_same_frames(items, chunk):
    stream = b"".join(P.encode(*f) for f in items)
    decoder, got = P.Decoder(), []
    for i in range(0, len(stream), chunk):
        got += decoder.feed(stream[i:i + chunk])
    assert got == [P.Frame(*f) for f in items]


@BOUNDED
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise_and_stay_bounded(data):
    decoder = P.Decoder()
    for frame in decoder.feed(data):  # a frame may be found in noise only if its CRC matched
        assert len(frame.payload) <= P.MAX_PAYLOAD and frame.encode() in data
    assert len(decoder.buffer) <= P.MAX_PAYLOAD + P.HEADER.size + P.CRC.size


@pytest.mark.slow
@BOUNDED
@given(st.binary(max_size=300).filter(lambda b: P.SYNC not in b and not b.endswith(P.SYNC[:1])), small_frames,
       small_frames)
def test_resync_after_garbage(garbage, first, second):
    """Noise without a sync pair before and between frames is skipped; both frames come out."""
    stream = garbage + P.encode(*first) + garbage + P.encode(*second)
    assert P.Decoder().feed(stream) == [P.Frame(*first), P.Frame(*second)]


@pytest.mark.slow
@BOUNDED
@given(small_frames, small_frames, st.data())
def test_a_damaged_frame_is_dropped_and_the_next_one_survives(first, second, data):
    damaged = bytearray(P.encode(*first))
    at = data.draw(st.integers(2, len(damaged) - 1), label="byte")  # not the sync pair: that only loses the frame
    damaged[at] ^= data.draw(st.integers(1, 255), label="xor")
    decoder = P.Decoder()
    frames = decoder.feed(bytes(damaged) + P.encode(*second) + bytes(P.MAX_PAYLOAD + 10))  # + the resync zeros
    assert frames == [P.Frame(*second)]  # CRC-32 catches any one damaged byte; the decoder rescans after it
    assert decoder.length_errors + decoder.crc_errors >= 1


@BOUNDED
@given(st.binary(max_size=64))
def test_payload_decoders_raise_only_payload_error(payload):
    for decode in (P.Hello.decode, P.InferReply.decode, P.Stats.decode, P.DeviceError.decode):
        try:
            decode(payload)
        except P.PayloadError:
            pass


# ---- the .tflite reader ----

@st.composite
def models(draw):
    """A structurally valid TFLite flatbuffer (every index in range, every constant buffer exactly the size its
    tensor's shape needs), packed through the schema bindings."""
    model = schema_fb.ModelT()
    model.version = 3
    model.buffers = [schema_fb.BufferT()]  # buffer 0: the empty buffer of every non-constant tensor
    model.operatorCodes = []
    for _ in range(draw(st.integers(0, 3))):
        code = schema_fb.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = draw(st.sampled_from([0, 3, 4, 9, 22, 25]))
        model.operatorCodes.append(code)
    graph = schema_fb.SubGraphT()
    graph.tensors = []
    for i in range(draw(st.integers(1, 5))):
        tensor = schema_fb.TensorT()
        tensor.shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
        tensor.type = 9  # INT8: one byte per element
        tensor.buffer = 0
        if draw(st.booleans()):  # a constant: its own buffer, of the exact size
            size = int(np.prod(tensor.shape))
            buffer = schema_fb.BufferT()
            buffer.data = draw(st.binary(min_size=size, max_size=size))
            model.buffers.append(buffer)
            tensor.buffer = len(model.buffers) - 1
        tensor.name = f"t{i}".encode()
        graph.tensors.append(tensor)
    n = len(graph.tensors)
    graph.inputs, graph.outputs = [0], [n - 1]
    graph.operators = []
    if model.operatorCodes:
        for _ in range(draw(st.integers(0, 3))):
            op = schema_fb.OperatorT()
            op.opcodeIndex = draw(st.integers(0, len(model.operatorCodes) - 1))
            op.inputs = draw(st.lists(st.integers(-1, n - 1), max_size=3))
            op.outputs = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=1))
            graph.operators.append(op)
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return model, bytes(builder.Output())


@pytest.mark.slow
@BOUNDED
@given(models())
def test_valid_models_always_parse_and_round_trip(pair):
    model, data = pair
    parsed = read_model(data)
    graph, original = parsed.subgraphs[0], model.subgraphs[0]
    assert [list(t.shape) for t in graph.tensors] == [t.shape for t in original.tensors]
    assert [t.buffer for t in graph.tensors] == [t.buffer for t in original.tensors]
    assert [o.opcodeIndex for o in graph.operators or []] == [o.opcodeIndex for o in original.operators]
    assert len(parsed.buffers) == len(model.buffers)


def only_pipeline_errors(data: bytes) -> None:
    try:
        read_model(data, name="fuzzed.tflite")
    except PipelineError as e:
        assert "fuzzed.tflite" in e.message and e.hint


@pytest.mark.slow
@BOUNDED
@given(models(), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6),
       st.integers(0, 10**6))
def test_mutated_models_raise_only_pipeline_error(pair, edits, cut):
    data = bytearray(pair[1])
    for where, value in edits:
        data[where % len(data)] = value
    only_pipeline_errors(bytes(data))
    only_pipeline_errors(bytes(data[:cut % len(data)]))


@BOUNDED
@given(st.binary(max_size=512))
def test_arbitrary_bytes_raise_only_pipeline_error(data):
    only_pipeline_errors(data)
    only_pipeline_errors(data[:4] + b"TFL3" + data[8:])  # past the identifier check, into the flatbuffer


def test_a_model_is_refused_with_its_name():
    with pytest.raises(PipelineError, match="'fuzzed.tflite' is not a TFLite flatbuffer"):
        read_model(b"\x00" * 16, name="fuzzed.tflite")
