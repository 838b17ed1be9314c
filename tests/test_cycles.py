"""The Cortex-M4 cycle model against counts the Cortex-M4 TRM fixes (ARM DDI 0439, Table 3-1 and section 3.3.2
"Load/store timings"): each sequence is assembled with arm-none-eabi-gcc, run in QEMU with the execution log, cut
out of the trace between two labels and costed, exactly as an inference is (pipeline/device/cycles.py)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from pipeline.device import cycles, latency
from pipeline.device.m4_timing import parse_insn, sequence_cycles

needs_tools = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                 reason="needs qemu-system-arm and gcc-arm-none-eabi (make install)")

PROGRAM = """
    .syntax unified
    .thumb
    .text
    .global reset, start, stop
    .word 0x20010000            @ initial stack pointer
    .word reset + 1             @ reset vector
    .thumb_func
reset:
    ldr r1, =0x20000100         @ r1, r2, r3, r5: addresses in RAM; r0 = 0
    ldr r2, =0x20000200
    ldr r3, =0x20000300
    ldr r5, =0x20000400
    movs r0, #0
    movs r4, #4
    b start
    .align 2
start:
{sequence}
stop:
    movs r0, #0x20              @ semihosting SYS_EXIT_EXTENDED, status 0
    ldr r1, =exit_block
    bkpt 0xab
    b .
    .align 2
exit_block:
    .word 0x20026, 0
    .ltorg
    .thumb_func
function:
{function}
"""

# name: (sequence, function it may call, (low, nominal, high) cycles, what the TRM says)
CASES = {
    "ldr_pipelined": ("ldr r0, [r1]\nldr r4, [r2]", "", (3, 3, 3),
                      "LDR R0,[R1]; LDR R1,[R2]: normally three cycles total (3.3.2)"),
    "three_ldr_pipelined": ("ldr r0, [r1, r5]\nldr r6, [r2]\nldr r7, [r3, #4]", "", (4, 4, 4),
                            "LDR R0,[R1,R5]; LDR R1,[R2]; LDR R2,[R3,#4]: normally four cycles total (3.3.2)"),
    "ldr_then_str": ("ldr r0, [r1, r2]\nstr r0, [r3, #20]", "", (3, 3, 3),
                     "LDR R0,[R1,R2]; STR R0,[R3,#20]: normally three cycles total (3.3.2)"),
    "ldr_then_str_register_offset": ("ldr r0, [r1, r5]\nstr r6, [r3, r5]", "", (3, 3, 3),
                                     "LDR R0,[R1,R2]; STR R1,[R3,R2]: normally three cycles total (3.3.2)"),
    "ldr_address_from_ldr": ("ldr r6, [r1]\nldr r7, [r6]", "", (4, 4, 4),
                             "no pipelining when the first LDR's destination forms the next address: 2 + 2"),
    "address_from_alu": ("adds r1, #4\nldr r0, [r1]", "", (4, 4, 4),
                         "a load whose address the preceding data-processing op wrote stalls 1: 1 + 2 + 1"),
    "ldm_3": ("ldm r1, {r4, r6, r7}", "", (4, 4, 4), "LDM: 1 + N, N = 3 registers (Table 3-1)"),
    "stm_4": ("stm r1!, {r4, r5, r6, r7}", "", (5, 5, 5), "STM: 1 + N, N = 4 (Table 3-1)"),
    "push_pop": ("push {r4, r5, r6}\npop {r4, r5, r6}", "", (8, 8, 8), "PUSH, POP: 1 + N each (Table 3-1)"),
    "ldrd": ("ldrd r6, r7, [r1]", "", (3, 3, 3), "LDRD: the two words pipelined together, three cycles (3.3.2)"),
    "smlad_4": ("smlad r0, r4, r6, r0\nsmlad r7, r4, r6, r7\nsmlad r0, r4, r6, r0\nsmlad r7, r4, r6, r7", "",
                (4, 4, 4), "SMLAD: 1 cycle (Table 3-1, DSP)"),
    "multiplies": ("muls r4, r6\nmla r0, r4, r6, r0\nsmulbb r7, r4, r6\nsmull r6, r7, r4, r4\nsxtab16 r6, r6, r4\n"
                   "ssat r6, #8, r6", "", (6, 6, 6), "MUL, MLA, SMULBB, SMULL, SXTAB16, SSAT: 1 each (Table 3-1)"),
    "beq_taken": ("cmp r0, #0\nbeq 1f\nnop\n1:", "", (3, 4, 5),
                  "CMP 1 + taken B<cc> 1 + P, P = 1..3 (Table 3-1); the skipped NOP not executed"),
    "beq_not_taken": ("cmp r0, #1\nbeq 1f\nnop\n1:", "", (3, 3, 3),
                      "CMP 1 + B<cc> not taken 1 + NOP 1 (Table 3-1)"),
    "cbz_taken": ("cbz r0, 1f\nnop\n1:", "", (2, 3, 4), "CBZ taken: 1 + P (Table 3-1)"),
    "b_always": ("b 1f\nnop\n1:", "", (2, 3, 4), "B: 1 + P (Table 3-1)"),
    "call_return": ("bl function", "push {r4, lr}\npop {r4, pc}", (9, 11, 13),
                    "BL 1 + P, PUSH {r4, lr} 1 + 2, POP {r4, pc} 1 + 2 + P (Table 3-1)"),
    "sdiv": ("sdiv r6, r4, r4", "", (2, 7, 12), "SDIV: 2 to 12 (Table 3-1, early termination)"),
}


def _assemble(tmp_path, sequence: str, function: str) -> tuple:
    source = tmp_path / "sequence.S"
    source.write_text(PROGRAM.format(sequence=sequence, function=function or "bx lr"))
    elf = tmp_path / "sequence.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-nostartfiles",
                    "-Wl,-Ttext=0x0", "-Wl,--entry=reset", str(source), "-o", str(elf)], check=True)
    symbols = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    address = {fields[2]: int(fields[0], 16) for fields in map(str.split, symbols.splitlines()) if len(fields) == 3}
    return elf, address["start"], address["stop"]


@pytest.mark.slow
@needs_tools
@pytest.mark.parametrize("name", sorted(CASES))
def test_sequence_cycles_match_the_trm(name, tmp_path):
    sequence, function, expected, trm = CASES[name]
    elf, start, stop = _assemble(tmp_path, sequence, function)
    estimate = cycles.estimate(cycles.trace_elf(elf, start, stop))
    assert estimate.cycles == expected, f"{name}: {trm}"


@pytest.mark.slow
@needs_tools
def test_trace_counts_a_loop(tmp_path):
    """A loop of 4 iterations: every execution counted, the branch taken 3 times and not taken once."""
    elf, start, stop = _assemble(tmp_path, "1:\nldr r6, [r1]\nsubs r4, #1\nbne 1b", "")
    estimate = cycles.estimate(cycles.trace_elf(elf, start, stop))
    assert estimate.instructions == 12 and estimate.taken_branches == 3 and estimate.words_loaded == 4
    assert estimate.cycles == (3 * 5 + 4, 3 * 6 + 4, 3 * 7 + 4)  # LDR 2 + SUBS 1 + BNE 1 + P; the last BNE 1


def test_it_folds_after_a_16_bit_instruction():
    """IT "can be folded onto a preceding 16-bit instruction" (Table 3-1 note): 0 cycles, 1 at the high bound;
    after a 32-bit instruction it takes 1."""
    lines = ["0x00000100:  2800       cmp      r0, #0", "0x00000102:  bf08       it       eq",
             "0x00000104:  2101       moveq    r1, #1"]
    assert sequence_cycles(tuple(parse_insn(line) for line in lines)) == (2, 2, 3)
    wide = ["0x00000100:  f1b0 0f00  cmp.w    r0, #0", *lines[1:]]
    assert sequence_cycles(tuple(parse_insn(line) for line in wide)) == (3, 3, 3)


def test_wait_states_add_per_word_loaded():
    lines = ["0x00000100:  e891 00f0  ldm.w    r1, {r4, r5, r6, r7}", "0x00000104:  680e       ldr      r6, [r1]"]
    insns = tuple(parse_insn(line) for line in lines)
    assert sequence_cycles(insns) == (7, 7, 7)
    assert sequence_cycles(insns, wait_states=2) == (17, 17, 17)  # 5 words x 2


def test_latency_rows_say_not_estimated_for_the_esp32():
    what, value, how = latency.rows({"board": "esp32", "estimated": False, "reason": latency.NOT_ESTIMATED["esp32"]})[0]
    assert value == "not estimated" and "ESP32" in what and "Xtensa" in how
    assert latency.rows({}) == []


@pytest.mark.slow
@needs_tools
def test_inference_trace_agrees_with_icount(tmp_path):
    """The traced window is the inference the firmware times with SysTick: the same instruction count (up to
    the few instructions of the timer read around the call), bit-exact outputs, and cycles per instruction
    between 1 and 3 (most instructions take 1 cycle, loads 2, LDM 1 + N)."""
    from aot_models import aot_run, student
    from pipeline.device.build import build
    run = tmp_path / "run"
    aot_run(run, student("dsconv"), 2, seed=0)
    firmware = build("qemu-cm4", run / "aot", budget="nano33ble", out_dir=tmp_path / "build")
    trace, report = cycles.trace_inference(firmware.elf, run)
    estimate = cycles.estimate(trace)
    assert report["mismatched_outputs"] == 0 and report["samples"] == 1 and trace.rewinds == 0
    assert abs(estimate.instructions - report["instructions_median"]) < 40
    low, nominal, high = estimate.cycles
    assert estimate.instructions < low <= nominal <= high < 3 * estimate.instructions
    metrics = latency.summarize(estimate, "nano33ble", trace, report)
    assert metrics["ms"] == pytest.approx(nominal / 64_000, rel=1e-3)
    assert "Nano 33 BLE" in latency.rows(metrics)[0][0] and "ms" in latency.rows(metrics)[0][1]
