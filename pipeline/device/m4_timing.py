"""Cortex-M4 cycles of a Thumb-2 instruction sequence, from the Cortex-M4 Technical Reference Manual.

ARM DDI 0439 (Cortex-M4 TRM r0p1), Table 3-1, gives each instruction's cycles on a system with zero wait states,
and section 3.3.2, "Load/store timings", how neighbouring loads and stores overlap. `sequence_cycles` applies
them to a sequence of instructions as QEMU's `-d in_asm` disassembles them (pipeline/device/cycles.py counts how often
each sequence ran). The rules:

- data processing, multiplies and multiply-accumulates (MUL, MLA, SMULL, SMLAL), the DSP extension (SMLAD,
  SMLABB, SXTAB16, SSAT, SEL, ...), bit-field and extend instructions: 1 cycle;
- a single load (LDR, LDRB, LDRH, LDRSB, LDRSH): 2; 1 when it follows a single load whose destination it does
  not use for its address ("pipelined"); a store with an immediate offset: 1; with a register offset: 2 (1 after
  a load); LDRD, STRD: 3; LDM, STM, PUSH, POP: 1 + N (N registers), never pipelined;
- a load or store whose address uses the register written by the data-processing instruction just before it
  stalls 1 cycle (there is no forwarding path to the address generator);
- a taken branch (B, BL, BX, BLX, CBZ, POP {pc}, ...): 1 + P, P the pipeline refill; a conditional branch not
  taken: 1; a load to the PC: 2 + 3 ("three cycles for the pipeline reload"); TBB, TBH: 6 (load, add, reload).

The TRM gives ranges for some costs, so every sequence gets three bounds (low, nominal, high):
- P is 1 to 3 "depending on the alignment and width of the target instruction, and whether the processor
  manages to speculate the address early": 1 / 2 / 3;
- IT "can be folded onto a preceding 16-bit instruction", then it takes no cycle: 0 / 0 / 1 (1 in every bound
  after a 32-bit instruction);
- SDIV, UDIV take 2 to 12 (early termination): 2 / 7 / 12; CPSID, CPSIE, MRS, MSR "1 or 2": 1 / 1 / 2;
- LDR Rx,[PC,#imm] "might add a cycle because of contention with the fetch unit": +0 / +0 / +1.
Not modelled: the memory system's wait states (`wait_states` adds that many cycles per word loaded, an upper
bound, as if every load read flash), unaligned accesses (+1 or +2 each), exception entry and return (12 cycles
each way in the TRM), a full write buffer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

BOUNDS = ("low", "nominal", "high")
REFILL = (1, 2, 3)  # P, the pipeline refill of a taken branch, per bound
DIVIDE = (2, 7, 12)  # SDIV / UDIV, per bound
CONDITIONS = {"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al"}
ALIASES = {"sb": 9, "sl": 10, "fp": 11, "ip": 12, "sp": 13, "lr": 14, "pc": 15}
PC, SP = 15, 13
REGISTER = re.compile(r"\b(r1[0-5]|r[0-9]|sb|sl|fp|ip|sp|lr|pc)\b")
LINE = re.compile(r"0x([0-9a-f]+):\s+([0-9a-f]{4})(?: ([0-9a-f]{4}))?\s+(\S+)\s*(.*)")  # a QEMU in_asm line

KINDS = {  # mnemonic (without condition and .w/.n) -> kind; everything else is "alu" (1 cycle)
    **dict.fromkeys(("ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrex", "ldrexb", "ldrexh", "ldrt", "ldrbt",
                     "ldrht", "ldrsbt", "ldrsht"), "load"),
    **dict.fromkeys(("str", "strb", "strh", "strex", "strexb", "strexh", "strt", "strbt", "strht"), "store"),
    "ldrd": "double", "strd": "double",
    **dict.fromkeys(("ldm", "ldmia", "ldmfd", "ldmdb", "ldmea", "pop"), "load_multiple"),
    **dict.fromkeys(("stm", "stmia", "stmea", "stmdb", "stmfd", "push"), "store_multiple"),
    **dict.fromkeys(("b", "bl", "bx", "blx"), "branch"), "cbz": "branch_if", "cbnz": "branch_if",
    "tbb": "table", "tbh": "table", "sdiv": "divide", "udiv": "divide", "isb": "isb",
    **dict.fromkeys(("cpsid", "cpsie", "mrs", "msr"), "system"),
    **dict.fromkeys(("cmp", "cmn", "tst", "teq", "nop", "dsb", "dmb", "wfi", "wfe", "sev", "pld", "pli", "bkpt",
                     "svc", "udf"), "no_result"),
    "vldr": "fp_load", "vstr": "fp_store", "vmov": "fp_move",
    **dict.fromkeys(("vldm", "vldmia", "vldmdb", "vpop"), "fp_load_multiple"),
    **dict.fromkeys(("vstm", "vstmia", "vstmdb", "vpush"), "fp_store_multiple"),
    **dict.fromkeys(("vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"), "fp_mac"),
    "vdiv": "fp_divide", "vsqrt": "fp_divide",
}
TWO_RESULTS = {"umull", "smull", "umlal", "smlal", "smlald", "smlsld", "umaal", "smlalbb", "smlalbt", "smlaltb",
               "smlaltt"}
MULTIPLE = ("load_multiple", "store_multiple", "fp_load_multiple", "fp_store_multiple")
ADDRESSED = {"load", "store", "double", "fp_load", "fp_store", *MULTIPLE}
FLOW = ("branch", "branch_if", "table")  # change the flow whenever they execute (so do writes to the PC)


@dataclass(frozen=True)
class Insn:
    """One instruction as QEMU disassembled it."""
    address: int
    size: int  # bytes: 2 (16-bit encoding) or 4 (32-bit)
    mnemonic: str  # e.g. "ldr.w", "smlad", "addeq", "bne"
    operands: str  # e.g. "r0, [r1, #4]"


def parse_insn(line: str) -> Insn | None:
    """`0x00001a02:  fb22 bb07  smlad    fp, r2, r7, fp` -> Insn; None for any other line."""
    m = LINE.match(line)
    if m is None:
        return None
    return Insn(int(m.group(1), 16), 4 if m.group(3) else 2, m.group(4), m.group(5).strip())


@dataclass(frozen=True)
class Decoded:
    kind: str
    conditional: bool  # a condition suffix (B<cc>, or inside an IT block) or CBZ/CBNZ: may not be taken
    results: frozenset  # registers written
    address: frozenset  # registers the memory address is computed from
    count: int  # registers transferred (LDM/STM/PUSH/POP, VLDM/VSTM), words for LDRD/STRD
    register_offset: bool  # [Rn, Rm]: a store that cannot take 1 cycle
    fp_double: bool  # a VFP double register (d0-d15) is moved


def _registers(text: str) -> list[int]:
    return [ALIASES[r] if r in ALIASES else int(r[1:]) for r in REGISTER.findall(text)]


def _base(mnemonic: str) -> tuple[str, bool]:
    """("ldrb", True) for "ldrbne.w": the mnemonic without width and condition, and whether it had one."""
    name = mnemonic.split(".")[0]
    if name in KINDS or re.fullmatch(r"it[te]{0,3}", name):
        return name, False
    if len(name) > 2 and name[-2:] in CONDITIONS and name[:-2] in KINDS:
        return name[:-2], True
    return name, False


@lru_cache(maxsize=None)
def decode(mnemonic: str, operands: str) -> Decoded:
    name, conditional = _base(mnemonic)
    kind = "it" if re.fullmatch(r"it[te]{0,3}", name) else KINDS.get(name, "alu")
    regs = _registers(operands)
    inside = operands[operands.find("["):operands.find("]") + 1] if "[" in operands else ""
    listed = _registers(operands[operands.find("{"):]) if "{" in operands else []
    address, results, count = frozenset(_registers(inside)), frozenset(), 1
    if kind in MULTIPLE:
        address = frozenset([SP]) if name in ("pop", "push", "vpop", "vpush") else frozenset(regs[:1])
        count = len(listed) if kind in ("load_multiple", "store_multiple") else _fp_count(operands)
        results = frozenset(listed) if kind == "load_multiple" else frozenset()
    elif kind in ("load", "alu", "divide"):
        results = frozenset(regs[:2 if name in TWO_RESULTS else 1])
    elif kind == "double":  # LDRD / STRD: two words
        results, count = (frozenset(regs[:2]) if name == "ldrd" else frozenset()), 2
    return Decoded(kind, conditional or kind == "branch_if", results, address, count,
                   len(_registers(inside)) >= 2, bool(re.search(r"\bd\d+\b", operands)))


def _fp_count(operands: str) -> int:
    """Registers in a VLDM/VSTM/VPUSH/VPOP list ({s0-s3} or {d8, d9}), doubles counted twice (1 + 2N cycles)."""
    inside = operands[operands.find("{") + 1:operands.find("}")]
    words = 0
    for part in inside.split(","):
        bounds = re.findall(r"([sd])(\d+)", part)
        if bounds:
            span = int(bounds[-1][1]) - int(bounds[0][1]) + 1
            words += span * (2 if bounds[0][0] == "d" else 1)
    return max(words, 1)


def _cost(d: Decoded, insn: Insn, prev: Decoded | None, prev_size: int, taken: bool) -> tuple[int, ...]:
    """Cycles of one instruction for each bound, given the one before it (None at the start of a sequence)."""
    kind = d.kind
    stall = 1 if (kind in ADDRESSED and prev is not None and prev.kind in ("alu", "divide")
                  and prev.results & d.address) else 0
    pipelined = prev is not None and prev.kind == "load" and PC not in prev.results and not prev.results & d.address
    if kind == "load":
        if taken:  # a load to the PC blocks: 2 for the load, 3 for the pipeline reload
            return (5 + stall,) * 3
        base = (1 if pipelined else 2) + stall
        return (base, base, base + (1 if PC in d.address else 0))
    if kind == "store":
        return ((2 if d.register_offset and not pipelined else 1) + stall,) * 3
    if kind == "double":
        return (3 + stall,) * 3
    if kind in ("load_multiple", "store_multiple"):
        refill = REFILL if taken else (0, 0, 0)  # POP {..., pc} / LDM {..., pc}
        return tuple(1 + d.count + stall + p for p in refill)
    if kind in ("branch", "branch_if"):
        return tuple(1 + p for p in REFILL) if taken else (1, 1, 1)
    if kind == "table":
        return (6, 6, 6)
    if kind == "divide":
        return DIVIDE
    if kind == "it":
        return (0, 0, 1) if prev is not None and prev_size == 2 else (1, 1, 1)
    if kind == "isb":
        return tuple(1 + p for p in REFILL)
    if kind == "system":
        return (1, 1, 2)
    if kind in ("fp_load", "fp_store"):
        return ((3 if d.fp_double else 2) + stall,) * 3
    if kind in ("fp_load_multiple", "fp_store_multiple"):
        return (1 + d.count + stall,) * 3
    if kind == "fp_mac":
        return (3, 3, 3)
    if kind == "fp_divide":
        return (14, 14, 14)
    if kind == "fp_move":
        return (2, 2, 2) if _registers(insn.operands) else (1, 1, 1)
    if taken:  # MOV PC / ADD PC: a branch
        return tuple(1 + p for p in REFILL)
    return (1, 1, 1)


def words_loaded(d: Decoded) -> int:
    """Data words one instruction reads from memory (what flash wait states would delay)."""
    if d.kind == "load":
        return 1
    if d.kind == "fp_load":
        return 2 if d.fp_double else 1
    if d.kind == "double":
        return 2 if d.results else 0  # LDRD (STRD writes no register)
    if d.kind in ("load_multiple", "fp_load_multiple"):
        return d.count
    return 0


def sequence_cycles(insns: tuple[Insn, ...], taken: bool = False, wait_states: int = 0) -> tuple[int, int, int]:
    """(low, nominal, high) cycles of `insns` run once in order. `taken`: whether the last instruction, if it
    is conditional and can branch, branched (the trace knows: the next block's address); an unconditional branch
    always does. `wait_states`: cycles added per word loaded (0: a zero-wait-state memory, as in the TRM)."""
    totals = [0, 0, 0]
    prev, prev_size = None, 0
    for i, insn in enumerate(insns):
        d = decode(insn.mnemonic, insn.operands)
        flows = d.kind in FLOW or PC in d.results
        branched = flows and (not d.conditional or (taken and i == len(insns) - 1))
        cost = _cost(d, insn, prev, prev_size, branched)
        extra = wait_states * words_loaded(d)
        for b in range(3):
            totals[b] += cost[b] + extra
        prev, prev_size = d, insn.size
    return totals[0], totals[1], totals[2]
