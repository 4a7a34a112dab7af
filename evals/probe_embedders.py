# ruff: noqa: E501  (the probe passages below are long one-line strings)
"""Probe: all-MiniLM-L6-v2 (default) vs USE multilingual v3 for techkb's dense retrieval.

Run: .venv/bin/python -m evals.probe_embedders [--chunks 300] [--runs 3]

(a) Throughput on ~150-200-word English chunks packed from the Markdown under corpora/
    (topped up from shared/open-corpus when corpora/ has too little English text): wall-clock
    texts/s with default threads (median of `--runs`, the models interleaved), and texts per
    CPU-second on one thread, which a busy machine distorts far less.
(b) Cross-language retrieval: 32 target passages (8 per group: zh->en, en->zh, en->en,
    zh->zh) plus 8 near-topic distractors form one mixed 40-passage pool. Every target has an
    English and a Chinese question, so each direction (question language -> passage language)
    has 16 questions: the 8 its group was written for ("designed") and 8 parallel ones.
    Reported: top-1, MRR and recall@6 for MiniLM, USE and techkb's BM25 alone, and fused by
    reciprocal rank as assistant.retrieve does (today's MiniLM+BM25, a switch to USE, USE as a
    second dense index, each optionally with a cross-language lane).
(c) English-only quality: the en->en questions against the English passages alone, then with
    the corpus chunks of (a) added as extra candidates (a chunk that outranks the gold passage
    is listed: it may answer the question too, so judge those by eye).

The passages are shorter (60-110 words, 100-200 Chinese characters) than real chunks and the
pool is small; treat the retrieval numbers as a probe, not a benchmark. Timings come from the
machine that runs it (the reference machine has 2 noisy cores): compare within one run only.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.embed import SentenceTransformerEmbedder
from assistant.embed_multilingual import UniversalSentenceEncoderEmbedder
from assistant.interfaces import Embedder

ROOT = Path(__file__).resolve().parents[1]
OPEN_CORPUS = ROOT.parent / "shared" / "open-corpus"
CJK = re.compile(r"[\u3400-\u9fff]")
MINILM_MAX = 256  # max_seq_length of the bundled all-MiniLM-L6-v2

# ---------------------------------------------------------------- (a) throughput corpus


def _english_markdown(folder: Path) -> list[Path]:
    files = []
    for p in sorted(folder.rglob("*.md")):
        text = p.read_text(encoding="utf-8", errors="replace")
        if "license" in p.name.lower() or len(CJK.findall(text)) > 50:
            continue
        files.append(p)
    return files


def _pack(text: str, low: int = 150, high: int = 200) -> list[str]:
    """Greedy blank-line-block packing into chunks of `low`..`high` words."""
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
    chunks: list[str] = []
    cur: list[str] = []
    n = 0
    for block in re.split(r"\n\s*\n", text):
        words = block.split()
        while len(words) > high:  # a very long block is cut at word boundaries
            head, words = words[: (low + high) // 2], words[(low + high) // 2 :]
            chunks.append(" ".join(head))
        if n + len(words) > high and n >= low:
            chunks.append("\n\n".join(cur))
            cur, n = [], 0
        cur.append(" ".join(words))
        n += len(words)
        if n >= low:
            chunks.append("\n\n".join(cur))
            cur, n = [], 0
    return [c for c in chunks if low <= len(c.split()) <= high + 20]


def load_chunks(count: int) -> tuple[list[str], list[str], str]:
    """`count` chunks, the file each came from, and a note on where they came from."""
    folders = [("corpora", ROOT / "corpora"), ("open-corpus", OPEN_CORPUS)]
    chunks: list[str] = []
    sources: list[str] = []
    origin = []
    for label, folder in folders:
        if len(chunks) >= count or not folder.exists():
            continue
        got = [(c, p.stem) for p in _english_markdown(folder) for c in _pack(p.read_text("utf-8"))]
        got = got[: count - len(chunks)]
        chunks += [c for c, _ in got]
        sources += [src for _, src in got]
        origin.append(f"{len(got)} from {label}")
    if chunks and len(chunks) < count:  # reuse rather than run on too few
        origin.append(f"{count - len(chunks)} repeated to fill")
        while len(chunks) < count:
            chunks += chunks[: count - len(chunks)]
            sources += sources[: count - len(sources)]
    return chunks, sources, ", ".join(origin)


def _gflops() -> float:
    """A 0.1-0.3 s float32 matmul probe: shows how much CPU the machine gave us just now."""
    x = np.random.default_rng(0).random((384, 384), dtype=np.float32)
    t = time.perf_counter()
    for _ in range(100):
        x @ x
    return 100 * 2 * 384**3 / (time.perf_counter() - t) / 1e9


def wall_rates(models: dict[str, Embedder], chunks: list[str], runs: int) -> dict:
    """Load time, then wall-clock texts/s per round with each model's default threads."""
    out: dict = {"load_s": {}, "wall": {n: [] for n in models}, "gflops": [], "vectors": {}}
    for name, m in models.items():
        t = time.perf_counter()
        m.embed_documents(chunks[:4])  # lazy load
        out["load_s"][name] = time.perf_counter() - t
        m.embed_documents(chunks[:50])  # warm-up
    for _ in range(runs):  # interleaved, so drift on a noisy machine hits both alike
        out["gflops"].append(_gflops())
        for name, m in models.items():
            t = time.perf_counter()
            out["vectors"][name] = m.embed_documents(chunks)
            out["wall"][name].append(len(chunks) / (time.perf_counter() - t))
    return out


def cpu_rates(models: dict[str, Embedder], chunks: list[str], runs: int) -> dict:
    """Texts per CPU-second of this process (models set up for one thread).

    A contended machine distorts this least: it counts only the CPU time the process got.
    """
    out: dict[str, list[float]] = {n: [] for n in models}
    for m in models.values():
        m.embed_documents(chunks[:50])
    for _ in range(runs):
        for name, m in models.items():
            t = time.process_time()
            m.embed_documents(chunks)
            out[name].append(len(chunks) / (time.process_time() - t))
    return out


# ---------------------------------------------------------------- (b) retrieval probe

# (id, passage language, passage, English question, Chinese question)
TARGETS: list[tuple[str, str, str, str, str]] = [
    # --- group zh->en: English passages, designed for Chinese questions
    (
        "T01",
        "en",
        "HX-R20 reducer grease, axes J1 to J3. Use only HXG-RV0 lithium-complex grease (NLGI 0). Inject 1,050 ml into J1, 780 ml into J2 and 520 ml into J3; the injected quantity exceeds the fill volume because new grease pushes the old grease out of the outlet port. Keep the injection pressure below 0.15 MPa: higher pressure can push grease past the oil seal into the motor. Remove the outlet plug before injecting and inject until the grease leaving the outlet has the colour of new grease, then run the purge program for 10 minutes before refitting the plug.",
        "What is the maximum grease injection pressure when regreasing the J1 to J3 RV reducers, and why?",
        "给J1到J3轴的RV减速器注润滑脂时，压力最高不能超过多少？为什么？",
    ),
    (
        "T02",
        "en",
        "Replacing the encoder backup battery. The pulse coders keep the absolute position of every axis on a 3.6 V lithium battery pack while the controller is switched off. Replace the pack with the controller switched ON and the emergency stop pressed, so the encoders are powered by the controller during the exchange. If the pack is removed with the power off, the position data are lost, the pendant shows 'Encoder battery lost' and the robot must be remastered. Replace the batteries every 1.5 years or when the low-battery warning appears, and dispose of old cells as hazardous waste.",
        "Should the controller be powered on or off while I swap the encoder backup battery?",
        "更换编码器电池时控制柜应该通电还是断电？断电换会怎样？",
    ),
    (
        "T03",
        "en",
        "Holding brake test. Each axis motor has a spring-applied brake that holds the arm when servo power is off. Run the brake check routine monthly and after any collision: the controller applies the brake, energises the motor to 120 % of the rated gravity torque and monitors the encoder. If the axis moves more than 0.5 mm at the flange, the brake has failed, the axis is flagged on the pendant and the robot may only be moved in T1 until the brake or motor is replaced. Never work under a vertical axis whose brake has failed without supporting the arm mechanically.",
        "How often do we run the holding brake test and what counts as a failed brake?",
        "机器人抱闸测试多久做一次？轴移动超过多少算不合格？",
    ),
    (
        "T04",
        "en",
        "Spindle warm-up. After a stop of more than 72 hours, or after a bearing replacement, run the spindle through the warm-up program before cutting. Start at 10 % of maximum speed for 10 minutes, then 25 %, 50 % and 75 % for 10 minutes each, and finish with 5 minutes at maximum speed. Watch the bearing temperature on the diagnostics page: if it rises more than 20 K above ambient or keeps rising at constant speed, stop and check the lubrication. A cold spindle grows thermally during the first hour, so do not machine tight-tolerance bores until it is warm.",
        "What is the spindle warm-up sequence after the machine has stood still over a long weekend?",
        "机床停机三天后主轴需要怎样暖机？每个转速跑多久？",
    ),
    (
        "T05",
        "en",
        "Measuring backlash on a ball screw axis. Mount a dial indicator with 0.001 mm resolution on the table and touch the spindle housing. Move the axis 10 mm in the positive direction, zero the indicator, then command 0.1 mm further and 0.1 mm back with the handwheel at x1 increment. The difference between the commanded and the indicated return is the lost motion. Measure at both ends and in the middle of travel. If the backlash exceeds 0.02 mm, check the support bearing preload and the nut before entering a backlash compensation value in the control.",
        "How do I measure reversal backlash on a ball screw axis with a dial indicator?",
        "用百分表怎么测滚珠丝杠的反向间隙？超过多少要先检查轴承预紧？",
    ),
    (
        "T06",
        "en",
        "Way lubrication system. The slideways and ball screws are fed by a central lubrication pump that delivers 3 cc of ISO VG 68 way oil every 15 minutes through metering valves. Fill the reservoir only with way oil: hydraulic oil lacks the tackiness additives and is washed off by the coolant. When the float switch detects a low level, the alarm 'Lube level low' appears and the next cycle start is blocked. If the pressure switch does not reach 1.5 MPa within 20 seconds of a pump cycle, look for a broken line or a leaking fitting at the saddle.",
        "Can I top up the slideway lubrication tank with hydraulic oil?",
        "导轨润滑油箱能不能加液压油？导轨润滑泵多久打一次油？",
    ),
    (
        "T07",
        "en",
        "Checking coolant concentration. Take a sample from the tank return, not from the nozzle, after the pump has run for at least 15 minutes. Put two drops on the refractometer prism, read the Brix value and multiply it by the refractometer factor on the coolant data sheet (typically 1.0 to 1.5). Keep the concentration between 6 % and 8 % for steel and cast iron. Below 5 % the risk of corrosion and bacterial growth rises; above 10 % operators risk skin irritation and the coolant foams. Correct with premix, never by pouring neat concentrate into the tank.",
        "How do we check the cutting fluid concentration with a refractometer, and what range is right?",
        "怎么用折光仪测切削液浓度？浓度应该控制在多少？",
    ),
    (
        "T08",
        "en",
        "Tool changer alignment. A misaligned automatic tool changer drops tools or damages the spindle taper. After a crash, move the changer arm to the tool change position from the maintenance screen, insert the alignment bar into the spindle and check with a dial indicator that the gripper fork centre is within 0.05 mm of the bar axis in X and Y. Correct the height with the arm stopper shims and the angle with the spindle orientation parameter, one step at a time. Finally run 50 tool changes at reduced speed and listen for knocking.",
        "After a crash the tool change arm no longer lines up with the spindle. How do I realign it?",
        "撞机以后换刀机械手对不准主轴，怎么校正？",
    ),
    # --- group en->zh: Chinese passages, designed for English questions
    (
        "T09",
        "zh",
        "编码器数据丢失后的零点校准（零位标定）。电池断电或更换电机后，控制器报警“脉冲编码器数据丢失”，机器人各轴位置不可信，必须重新标定零点。步骤：在 T1 模式下手动将各轴移动到零位刻线对齐的位置，用零位标定工具确认刻线偏差小于 0.1°，然后在示教器“系统—零点标定”菜单中对相应轴执行“单轴零点标定”，最后运行验证程序，检查工具中心点是否回到参考点，偏差不超过 0.5 mm。",
        "The robot lost its encoder data after the battery died. How do I remaster the axes?",
        "编码器电池没电后机器人要怎么重新做零点标定？",
    ),
    (
        "T10",
        "zh",
        "J4～J6 轴电缆线束检查。手腕部位的电缆随关节反复扭转，是编码器报警和断线的常见原因。每 3 个月或每 2,000 运行小时检查一次：断电并上锁挂牌后拆下手腕护罩，检查电缆外皮是否有磨损、裂纹或被扎带勒伤，保护弹簧是否断裂，润滑脂是否干涸。用手转动 J4 和 J6 全行程，观察电缆是否与机械臂摩擦。外皮磨破露出屏蔽层时必须更换整根线束，不允许用胶布包扎修补。",
        "How often should the wrist cable harness on J4 to J6 be inspected, and what am I looking for?",
        "手腕J4到J6轴的电缆多久检查一次？检查哪些地方？",
    ),
    (
        "T11",
        "zh",
        "J3 轴油封漏脂处理。若发现 J3 轴电机法兰处有润滑脂渗出，先确认上次注脂时是否拆下了排脂口螺塞：在排脂口封闭的情况下注脂，腔内压力升高会把油封唇口顶翻。处理方法：排出多余润滑脂，拆下电机，检查油封唇口和电机轴表面是否有划痕；更换新油封时在唇口涂少量润滑脂，用专用压装工具垂直压入，不得敲击。装回电机后按规定量重新注脂，并运行排脂程序释放腔内压力。",
        "Grease is leaking at the J3 motor flange. What usually causes it and how is the oil seal replaced?",
        "J3轴电机法兰处漏润滑脂是什么原因？油封怎么换？",
    ),
    (
        "T12",
        "zh",
        "维修前的能量隔离（上锁挂牌）。进入机器人安全围栏或打开控制柜之前，必须断开主电源开关，用个人挂锁锁住，并挂上写有姓名和日期的警示牌。每名进入人员各挂一把锁，钥匙由本人保管。断电后等待至少 5 分钟，让伺服放大器中的直流母线电容放电，用万用表确认母线电压低于 50 V 后才能接触端子。气动夹具还必须关闭气源并排空残余气压。",
        "What lockout/tagout steps are required before entering the robot cell or opening the controller cabinet?",
        "进入机器人围栏或打开控制柜前要怎么上锁挂牌？",
    ),
    (
        "T13",
        "zh",
        "工具中心点（TCP）标定——四点法。在工作台上固定一个尖顶参考点，用新工具的尖端以四种差异明显的姿态分别接触该点，每次接触后在示教器上记录位置。控制器根据四个姿态计算工具坐标系原点，并显示标定误差。误差大于 1 mm 时应重新标定，通常是某两个姿态过于接近所致。更换焊枪或夹爪、发生碰撞后都必须重新标定 TCP，否则所有示教点都会产生偏差。",
        "How do I calibrate the tool centre point of a new welding torch with the four-point method?",
        "新焊枪的工具中心点用四点法怎么标定？",
    ),
    (
        "T14",
        "zh",
        "伺服电机过热报警的排查。报警“电机过热”表示电机绕组温度超过保护值。常见原因：负载参数设置偏小导致电流长时间偏大；减速器润滑不良或抱闸未完全释放，产生额外摩擦；程序中加减速过于频繁；控制柜或电机周围通风不良、环境温度超过 45 °C。排查时先在示教器上查看各轴电流和负载率，若负载率持续高于 80 %，应降低速度倍率或加入等待时间，并检查抱闸释放电压是否正常。",
        "A servo motor keeps tripping an overheat alarm. What are the usual causes to check?",
        "伺服电机一直报过热是哪些原因引起的？",
    ),
    (
        "T15",
        "zh",
        "液压站压力下降的检查。机床液压系统用于卡盘夹紧、刀塔松开和尾座顶紧，额定压力通常为 4～5 MPa。压力下降时依次检查：油箱液位是否低于下限；吸油滤网和回油滤芯是否堵塞（滤芯压差指示器变红即需更换）；油温是否超过 55 °C 导致黏度下降；溢流阀设定是否被改动；液压泵是否有异响。液压油应每 4,000 小时或每年更换一次，同时清洗油箱。",
        "The hydraulic unit pressure keeps dropping and the chuck clamps weakly. What should I check?",
        "液压站压力下降、卡盘夹不紧，应该检查哪些地方？",
    ),
    (
        "T16",
        "zh",
        "急停回路双通道检查。急停按钮采用两组独立的常闭触点，分别接入安全继电器的两个通道。任一通道断开都会切断伺服电源；若两通道状态不一致超过 0.5 秒，安全继电器判定为交叉故障并锁定，必须排除故障后才能复位。每半年测试一次：依次按下控制柜、示教器和围栏上的每个急停按钮，确认伺服电源断开，并在记录表上签字。禁止用短接线跨接任何一个通道。",
        "How do we test the dual-channel emergency stop circuit and its safety relay?",
        "急停回路的双通道怎么测试？",
    ),
    # --- group en->en (control)
    (
        "T17",
        "en",
        "Collision detection sensitivity. The controller compares the measured motor torque with the torque predicted by the dynamic model and stops the robot when the difference exceeds a threshold. The sensitivity is set per program with the COL_DETECT instruction, from 50 % (most sensitive) to 200 %. Raise it only where the process itself causes torque peaks, for example while a spot welding gun closes or during deburring, and return to 100 % afterwards. Wrong payload data cause false collision stops, so check the payload settings before changing the sensitivity.",
        "The robot stops with false collision alarms during deburring. How do I adjust the collision detection sensitivity?",
        "机器人去毛刺时老是误报碰撞，碰撞检测灵敏度怎么调？",
    ),
    (
        "T18",
        "en",
        "Thermal compensation of the Z axis. As the spindle and column warm up, the tool tip moves toward the table by up to 30 µm in the first two hours. The control estimates this growth from four temperature sensors on the spindle housing and column and shifts the Z axis accordingly. Keep the compensation active in production. To verify it, probe a reference surface every 15 minutes during a two-hour run at constant speed; the residual drift should stay below 8 µm. Disable the compensation only while calibrating the sensors.",
        "Why do my Z depths drift during the first hours of machining, and how does the thermal compensation correct it?",
        "为什么开机头两个小时Z向加工深度会漂移？热补偿是怎么修正的？",
    ),
    (
        "T19",
        "en",
        "Compressed air preparation. Every pneumatic gripper and the tool-change clamp are fed through a filter-regulator-lubricator unit at the cell entry. Drain the filter bowl weekly, or fit an automatic drain, because condensate carried into the valves causes sticking and corrosion. Set the regulator to 0.5 MPa; the pressure switch stops the cell below 0.4 MPa. Modern valves are pre-lubricated: once an air line has run with oil mist it must always be lubricated, so do not start adding oil to a dry system.",
        "How often do I drain the air filter on the cell's FRL unit, and what pressure should the regulator be set to?",
        "气源三联件的过滤器多久排一次水？调压阀应该调到多少压力？",
    ),
    (
        "T20",
        "en",
        "Three-position enabling device. In T1 and T2 the robot moves only while the enabling switch on the back of the teach pendant is held in its middle position. Releasing it, or squeezing it fully into the panic position, stops the robot immediately. The switch must never be taped, clamped or bridged. Test it at the start of each shift: hold the middle position, jog an axis, then press fully through and confirm that motion stops and the servo power drops.",
        "How does the three-position enabling switch on the teach pendant work, and how is it tested?",
        "示教器背面的三位置使能开关是怎么工作的？怎么测试？",
    ),
    (
        "T21",
        "en",
        "Measuring tool length with the tool setter. Clean the tool and the setter contact surface, call the tool into the spindle and run the measuring cycle. The spindle approaches the setter at rapid traverse to 10 mm above it, then at 200 mm/min until the probe triggers, retracts and repeats at 20 mm/min. The measured length is written into the tool offset table. Repeat any measurement that differs from the preset value by more than 0.5 mm; a chip on the setter is the usual cause.",
        "How does the tool setter cycle measure tool length and write the offset?",
        "对刀仪是怎么测刀具长度并写入刀补的？",
    ),
    (
        "T22",
        "en",
        "Detecting reducer wear on palletizing robots. Heavy, fast palletizing cycles wear the J2 and J3 reducers faster than the rated life suggests. Take a grease sample at every regrease and check the iron-powder content: more than 0.1 % by weight indicates wear. Trend the axis torque during a fixed test motion each month; a rise of more than 10 % against the baseline, or a growing backlash felt at the flange, means the reducer should be replaced at the next planned stop.",
        "What signs show that the J2 reducer on a palletizing robot is wearing out?",
        "码垛机器人的J2减速器磨损有哪些征兆？",
    ),
    (
        "T23",
        "en",
        "Linear guide maintenance. Wipe the rails and check the end seals of every carriage each week; damaged seals let chips and coolant into the ball recirculation. Listen for grinding noise when jogging the axis at low speed and feel for rough spots. A carriage with increased friction shows as a higher following error and a higher motor current at constant feed. Regrease the carriages with the specified grease every 100 km of travel if they are not connected to the central lubrication.",
        "How do I look after the linear guide carriages, and when do they need regreasing?",
        "直线导轨滑块怎么保养？多久加一次润滑脂？",
    ),
    (
        "T24",
        "en",
        "Replacing a PLC I/O module. Switch off the 24 V supply of the rack or, if the CPU supports hot swap, first set the module to passive in the engineering tool. Note the wiring of the front connector, unlock and pull it, then replace the module with one of the same order number and firmware version. Refit the connector, power up and check that the module's status LED is green and the diagnostic buffer shows no error. Test every safety-related input on the module before returning the machine to production.",
        "What is the procedure for swapping a faulty PLC input/output module?",
        "PLC的输入输出模块坏了，更换步骤是什么？",
    ),
    # --- group zh->zh (control)
    (
        "T25",
        "zh",
        "负载参数设定。每次更换夹爪或工件变重后，必须在示教器中重新设定负载数据：质量（kg）、重心位置（相对法兰的 X、Y、Z，mm）和转动惯量。负载参数偏小会导致伺服电流偏大、电机过热和减速器早期磨损；偏大则会降低碰撞检测的灵敏度。不确定时可运行控制器自带的负载辨识程序，让 J5、J6 轴按规定动作摆动，自动计算质量和重心。",
        "After fitting a new gripper, how do I set the robot's payload data?",
        "换了新夹爪以后机器人的负载参数要怎么设置？",
    ),
    (
        "T26",
        "zh",
        "主轴振动检测。将加速度传感器吸附在主轴前轴承座上，在额定转速下测量振动速度有效值。新主轴一般低于 1.0 mm/s，超过 2.8 mm/s 需要安排检修，超过 4.5 mm/s 应停机。频谱中转速 1 倍频的峰值多为不平衡，2 倍频多为对中不良，轴承故障频率及其谐波则说明轴承损伤。每月测量一次并记录趋势，比单次数值更能反映劣化。",
        "What spindle vibration level is acceptable, and at what level must the machine be stopped?",
        "主轴振动值多少算正常？超过多少需要停机？",
    ),
    (
        "T27",
        "zh",
        "预防性维护计划的制定。以设备台账为基础，按日检、周检、月检、年检列出每台设备的维护项目，并注明负责人、所需工时和备件。周期应结合厂家手册和故障记录确定：故障频发的部件缩短周期，多年无故障的项目可适当延长。计划执行后在维护管理系统中关闭工单，每季度统计计划完成率和非计划停机时间，作为调整计划的依据。",
        "How should we build a preventive maintenance plan for the workshop equipment?",
        "怎么给车间的设备制定预防性维护计划？",
    ),
    (
        "T28",
        "zh",
        "排屑器卡死的处理。链板式排屑器卡死时，过载保护会停止电机并报警。先按急停并断开排屑器电源，清除卡在链板与壳体之间的长屑或缠绕的屑团，检查链条张紧度，链条下垂量应为 10～15 mm。重新启动后先反转几秒再正转。加工长屑材料时应优化断屑参数，否则卡死会反复出现。",
        "The hinged-belt chip conveyor has jammed and stopped. How do I clear it?",
        "链板排屑器卡住不转了怎么处理？",
    ),
    (
        "T29",
        "zh",
        "真空吸盘泄漏的排查。搬运机器人抓取工件时真空度达不到设定值（通常 -60 kPa），会触发“吸附失败”报警。检查顺序：吸盘唇边是否老化开裂；工件表面是否有油污、孔洞或过于粗糙；真空管路和接头是否漏气；真空发生器的消音器是否堵塞；供气压力是否低于 0.45 MPa。吸盘属于易损件，建议每 3 个月更换一次。",
        "The vacuum cups cannot reach the set vacuum and the robot reports a pick failure. What should I check?",
        "真空吸盘吸不住工件，真空度上不去，要检查什么？",
    ),
    (
        "T30",
        "zh",
        "螺距误差补偿。用激光干涉仪沿轴全行程每隔 20 mm 或 50 mm 设一个测量点，正向和反向各往返测量 5 次，由软件计算每个点的平均误差。将补偿值按点号输入数控系统的螺距误差补偿参数表，参考点必须与机床回零点一致。补偿完成后重新测量，定位精度和重复定位精度应达到验收标准，并保存补偿前后的测量报告。",
        "What are the steps for pitch error compensation with a laser interferometer?",
        "用激光干涉仪做螺距误差补偿的步骤是什么？",
    ),
    (
        "T31",
        "zh",
        "软限位设定。软限位是控制器用软件限制各轴运动范围的参数，应设在机械限位块以内，一般留出 2°～5° 的余量。修改软限位需要管理员权限，修改后要在 T1 模式下低速将各轴逐一移动到限位附近，确认机器人在碰到机械挡块之前停止。软限位不能代替安全控制器中的安全限位，涉及人员防护的区域必须使用经过认证的安全功能。",
        "How should the robot's software axis limits be set, and how much margin should they leave?",
        "机器人的软限位应该怎么设定？留多少余量？",
    ),
    (
        "T32",
        "zh",
        "焊枪清枪站的维护。弧焊机器人每焊完 10～20 个工件自动进入清枪站：铰刀清除喷嘴内的飞溅，喷嘴浸入或喷涂防飞溅剂，剪丝机构把焊丝剪到规定的干伸长。每天检查铰刀刃口是否磨损、防飞溅剂液位是否足够，每周清理剪丝机构内的焊丝头。铰刀与喷嘴不同心会刮伤导电嘴，更换焊枪后必须重新示教清枪位置。",
        "What needs to be checked daily on the arc welding robot's torch cleaning station?",
        "弧焊机器人的清枪站每天要检查什么？",
    ),
]

# Near-topic passages that answer none of the questions.
DISTRACTORS: list[tuple[str, str, str]] = [
    (
        "D1",
        "en",
        "Wrist axes J4 to J6 use strain-wave (harmonic) gears lubricated with HXG-HW2 grease, NLGI 2. Unlike the main-axis RV reducers they are not purged: remove the inspection plug, inject 35 g per axis with the gun and refit the plug with new PTFE tape. Regrease every 10,000 operating hours. Mixing HXG-HW2 with the RV grease softens it and causes leakage at the wrist seals.",
    ),
    (
        "D2",
        "en",
        "Backing up the controller. Before any software update, battery exchange or board replacement, save a full image backup to a USB stick from the File menu. The image contains the programs, system variables, mastering data and I/O configuration. Label the stick with the robot serial number and the date, and keep the last three backups. An image backup restores a controller in about ten minutes; a file backup only restores programs.",
    ),
    (
        "D3",
        "en",
        "Spindle bearing replacement is done by the manufacturer's service or in a clean room. The angular contact bearings are matched sets, preloaded by spacer length, and cannot be replaced individually. After a rebuild the spindle is balanced to G0.4, run in and delivered with a vibration report. Do not disassemble the spindle on the machine: contamination shortens bearing life to a few hundred hours.",
    ),
    (
        "D4",
        "zh",
        "编码器电缆插头更换。若示教器报警“编码器通信异常”，且摇动电缆时报警时有时无，多为电机端插头针脚松动或腐蚀。更换插头前必须断电，并做好数据备份；更换后如果编码器数据未丢失，则无需重新标定零点。插头压接使用专用压接钳，屏蔽层须可靠接地。",
    ),
    (
        "D5",
        "zh",
        "手动释放抱闸移动机器人。在机器人夹住人员或碰撞卡死等紧急情况下，可以通过抱闸释放按钮或外接释放盒打开某一轴的抱闸，手动推动机械臂。释放前必须用吊具或支撑架托住手臂，因为 J2、J3 轴在重力作用下会突然下落。此操作只能由经过培训的人员进行。",
    ),
    (
        "D6",
        "en",
        "Coolant tank cleaning. Every six months, or when the coolant smells rancid, pump out the tank, remove chips and sludge, and circulate a system cleaner for 8 hours while the machine runs without cutting. Then flush with water, refill with freshly mixed coolant and record the date. Skim tramp oil floating on the surface weekly, because it feeds the bacteria that cause the smell.",
    ),
    (
        "D7",
        "zh",
        "滚珠丝杠的润滑。丝杠螺母一般由集中润滑系统供油，部分机型采用润滑脂，每 500 运行小时用油枪从螺母注油嘴补充 2～3 g 润滑脂。润滑不足时丝杠温升增大，反向间隙和定位精度会逐渐变差。不要把导轨油和润滑脂混用。",
    ),
    (
        "D8",
        "en",
        "Operating modes. In T1 the tool centre point speed is limited to 250 mm/s and the operator may stand inside the cell holding the enabling device. T2 allows programmed speed for testing and is only permitted where the risk assessment allows it. AUTO runs the program at full speed and requires all guard doors closed and the fence interlocks made.",
    ),
]

GROUP_OF = {
    t[0]: g
    for g, ids in {
        "zh->en": range(1, 9),
        "en->zh": range(9, 17),
        "en->en": range(17, 25),
        "zh->zh": range(25, 33),
    }.items()
    for t in TARGETS
    if int(t[0][1:]) in ids
}


Row = tuple[str, str, int, dict[str, np.ndarray]]


def bm25_scores(queries: list[str], passages: list[str]) -> np.ndarray:
    """BM25 as techkb's keyword index scores it (its tokenizer: stemmed English, jieba)."""
    import bm25s

    from assistant.store.keyword import tokenize

    bm25 = bm25s.BM25()
    bm25.index([tokenize(p) or ["\x00empty"] for p in passages], show_progress=False)
    return np.stack([bm25.get_scores(tokenize(q)) for q in queries]).astype(np.float32)


def rank_of(scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """1-based rank of each question's gold column (ties count against the gold)."""
    return np.array([int((scores[i] >= scores[i, g]).sum()) for i, g in enumerate(gold)])


def rrf_rank(
    dense: list[np.ndarray], keyword: np.ndarray, gold: np.ndarray, top: int, k: float = 60.0
) -> np.ndarray:
    """Rank after reciprocal-rank fusion of each ranking's `top` best, as assistant.retrieve does.

    A passage outside a ranking's top list gets nothing from it, as from a store that returns
    only `dense_k` / `keyword_k` candidates; nor does a zero BM25 score or a passage a list
    excludes (-inf).
    """
    fused = np.zeros(keyword.shape, dtype=np.float64)
    for s in [*dense, keyword]:
        for i, row in enumerate(np.argsort(-s, axis=1, kind="stable")[:, :top]):
            row = row[s[i, row] > 0] if s is keyword else row[np.isfinite(s[i, row])]
            fused[i, row] += 1.0 / (k + np.arange(1, len(row) + 1))
    return rank_of(fused, gold)


SINGLE = ("MiniLM", "USE", "BM25")
FUSED = (
    "MiniLM+BM25",  # techkb today
    "USE+BM25",  # switch the dense index
    "MiniLM+USE+BM25",  # second dense index, plain RRF
    "MiniLM+BM25+xlang",  # keep MiniLM, USE only for a cross-language lane
    "USE+BM25+xlang",  # switch, plus a cross-language lane
    "MiniLM+USE+BM25+xlang",  # second dense index, plus a cross-language lane
)


def all_ranks(
    scores: dict[str, np.ndarray], gold: np.ndarray, other_lang: np.ndarray, top: int
) -> dict[str, np.ndarray]:
    """Ranks for each single ranking and each fusion in FUSED.

    `xlang` is a third dense list: USE's ranking restricted to passages in the other language
    than the question (`other_lang` is a question x passage mask), i.e. a Chroma query with
    `where language != question language`. It keeps cross-language hits from being outvoted.
    """
    out = {name: rank_of(scores[name], gold) for name in SINGLE}
    minilm, use, bm25 = scores["MiniLM"], scores["USE"], scores["BM25"]
    xlang = np.where(other_lang, use, -np.inf)
    lists = {
        "MiniLM+BM25": [minilm],
        "USE+BM25": [use],
        "MiniLM+USE+BM25": [minilm, use],
        "MiniLM+BM25+xlang": [minilm, xlang],
        "USE+BM25+xlang": [use, xlang],
        "MiniLM+USE+BM25+xlang": [minilm, use, xlang],
    }
    for name in FUSED:
        out[name] = rrf_rank(lists[name], bm25, gold, top)
    return out


def probe(
    models: dict[str, Embedder], extra: dict[str, np.ndarray], chunks: list[str], top: int
) -> dict:
    """Ranks for every question; `extra` holds each model's vectors of the English `chunks`."""
    pool = [(t[0], t[1], t[2]) for t in TARGETS] + DISTRACTORS
    index = {pid: i for i, (pid, _, _) in enumerate(pool)}
    # (direction, designed for it?, question, gold id, question language)
    queries: list[tuple[str, bool, str, str, str]] = []
    for tid, p_lang, _, q_en, q_zh in TARGETS:
        for q_lang, q in (("en", q_en), ("zh", q_zh)):
            direction = f"{q_lang}->{p_lang}"
            queries.append((direction, GROUP_OF[tid] == direction, q, tid, q_lang))
    en_pool = [i for i, p in enumerate(pool) if p[1] == "en"]
    gold = np.array([index[q[3]] for q in queries])
    gold_en = np.array([en_pool.index(g) if g in en_pool else 0 for g in gold])
    texts = [p[2] for p in pool]
    en_texts = [texts[i] for i in en_pool]
    qs = [q[2] for q in queries]
    qlang = np.array([q[4] for q in queries])
    plang = np.array([p[1] for p in pool])
    full: dict[str, np.ndarray] = {}
    en: dict[str, np.ndarray] = {}
    big: dict[str, np.ndarray] = {}
    for name, m in models.items():
        pv = m.embed_documents(texts)
        qv = m.embed_documents(qs)
        full[name], en[name] = qv @ pv.T, qv @ pv[en_pool].T
        big[name] = qv @ np.concatenate([pv[en_pool], extra[name]]).T
    full["BM25"] = bm25_scores(qs, texts)
    en["BM25"] = bm25_scores(qs, en_texts)
    big["BM25"] = bm25_scores(qs, en_texts + chunks)
    ranks = all_ranks(full, gold, plang[None, :] != qlang[:, None], top)
    ranks_en = all_ranks(en, gold_en, np.broadcast_to(qlang[:, None] != "en", en["USE"].shape), top)
    ranks_big = all_ranks(
        big, gold_en, np.broadcast_to(qlang[:, None] != "en", big["USE"].shape), top
    )

    rows: list[Row] = []
    for direction in ("zh->en", "en->zh", "en->en", "zh->zh"):
        for subset in ("designed", "all"):
            sel = np.array([q[0] == direction and (subset == "all" or q[1]) for q in queries])
            rows.append((direction, subset, int(sel.sum()), {n: r[sel] for n, r in ranks.items()}))
    sel = np.array([q[0] == "en->en" for q in queries])
    n_big = len(en_pool) + len(chunks)
    rows.append(
        (
            f"en->en, only the {len(en_pool)} English passages",
            "all",
            int(sel.sum()),
            {n: r[sel] for n, r in ranks_en.items()},
        )
    )
    rows.append(
        (
            f"en->en, + {len(chunks)} corpus chunks ({n_big})",
            "all",
            int(sel.sum()),
            {n: r[sel] for n, r in ranks_big.items()},
        )
    )
    zh_q = qlang == "zh"
    same_lang = {n: float((plang[full[n].argmax(axis=1)][zh_q] == "zh").mean()) for n in SINGLE}
    # the chunk that beat the gold passage in the big English pool (it may answer it too)
    beaten = {
        n: [
            (queries[i][3], int(np.argmax(big[n][i])) - len(en_pool))
            for i in np.flatnonzero(sel)
            if ranks_big[n][i] > 1
        ]
        for n in models
    }
    return {
        "rows": rows,
        "same_lang": same_lang,
        "beaten": beaten,
        "n_pool": len(pool),
        "n_en": len(en_pool),
    }


def metrics(r: np.ndarray) -> str:
    return f"{(r == 1).mean():.2f} / {(1 / r).mean():.2f} / {(r <= 6).mean():.2f}"


def print_table(rows: list[Row], names: Sequence[str]) -> None:
    print("| direction | questions | n | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for direction, subset, n, by_name in rows:
        print(
            f"| {direction} | {subset} | {n} | "
            + " | ".join(metrics(by_name[m]) for m in names)
            + " |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fuse-top", type=int, default=10, help="list length fused by RRF")
    args = ap.parse_args()
    models: dict[str, Embedder] = {
        "MiniLM": SentenceTransformerEmbedder(),
        "USE": UniversalSentenceEncoderEmbedder(),
    }
    single: dict[str, Embedder] = {
        "MiniLM": models["MiniLM"],  # switched to one torch thread below
        "USE": UniversalSentenceEncoderEmbedder(threads=1),
    }
    chunks, sources, origin = load_chunks(args.chunks)
    words = [len(c.split()) for c in chunks]
    print(
        f"## (a) throughput: {len(chunks)} English chunks ({origin}), "
        f"{statistics.mean(words):.0f} words mean ({min(words)}-{max(words)})\n"
    )
    import torch

    threads = torch.get_num_threads()
    tp = wall_rates(models, chunks, args.runs)
    torch.set_num_threads(1)
    cpu = cpu_rates(single, chunks, args.runs)
    torch.set_num_threads(threads)
    print(
        f"| model | load s | texts/s, {threads} threads: median (runs) | "
        "texts per CPU-s, 1 thread: median (runs) | tokens/chunk | chunks over 256 |"
    )
    print("|---|---|---|---|---|---|")
    for name, m in models.items():
        toks = [m.count_tokens(c) for c in chunks]
        wall, per_cpu = tp["wall"][name], cpu[name]
        print(
            f"| {name} | {tp['load_s'][name]:.1f} | {statistics.median(wall):.1f} "
            f"({', '.join(f'{r:.1f}' for r in wall)}) | {statistics.median(per_cpu):.1f} "
            f"({', '.join(f'{r:.1f}' for r in per_cpu)}) | {statistics.mean(toks):.0f} | "
            f"{sum(t > MINILM_MAX for t in toks)} |"
        )
    print(
        f"\nCPU probe before each timed round (GFLOPS, float32 matmul): "
        f"{', '.join(f'{g:.0f}' for g in tp['gflops'])}; an idle machine of this kind gives "
        "~150-200, a lower value means other work competed for the cores."
    )
    print(
        "Tokens: word pieces for MiniLM (it reads the first 256), SentencePiece pieces for "
        "USE (it reads all of them)."
    )

    res = probe(models, tp["vectors"], chunks, args.fuse_top)
    print(
        f"\n## (b, c) retrieval: one pool of {res['n_pool']} passages ({res['n_en']} English); "
        "cells are top-1 / MRR / recall@6 (6 = chunks techkb hands the answerer)\n"
    )
    print("### single rankings\n")
    print_table(res["rows"], SINGLE)
    print(
        f"\n### fused as assistant.retrieve does: RRF (k=60) of each list's top {args.fuse_top}\n"
    )
    print_table(res["rows"], FUSED)
    print(
        "\nChinese questions whose top-1 passage is Chinese (the right answer is Chinese for "
        "half of them): " + ", ".join(f"{n} {v:.2f}" for n, v in res["same_lang"].items())
    )
    print(
        "\nCorpus chunks ranked above the gold passage in the large English pool "
        "(strict misses: such a chunk may answer the question as well):"
    )
    for name, pairs in res["beaten"].items():
        print(f"  {name}: {'none' if not pairs else ''}")
        for tid, j in pairs:
            where = f"{sources[j]}: {' '.join(chunks[j].split())[:90]}" if j >= 0 else "a passage"
            print(f"    {tid} <- {where}")


if __name__ == "__main__":
    main()
