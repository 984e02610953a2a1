"""``trackkit train tras``: the TRAS student trained by A3C with distilling and autonomous workers.

Dunnhofer et al. 2020, Sec. 3.3 and Fig. 1. ``W`` students (``seqrl.run_a3c`` workers) play
episodes on chunks of the transfer set and push gradients into one shared student:

- distilling workers act with the mean action and minimise eq. 3 (``distill.
  masked_action_distillation_loss``): L1 to the action ``phi(b^(t)_t, b_{t-1})`` of the best
  teacher of the step (eq. 4, ``distill.select_best_teacher``), masked to the steps where that
  teacher's reward beat the student's (``distill.action_distillation_mask``), plus weight decay;
- autonomous workers sample Gaussian actions with ``sigma = |mu - phi(g_t, b_{t-1})|``
  (``seqrl.gaussian_box_sigma``), are rewarded by the quantised IoU of eq. 2
  (``seqrl.quantised_iou_reward``) and minimise the actor-critic loss of eqs. 5-7 scaled by
  ``rl_loss_scale`` (the runner's ``actor_critic_loss``);
- each worker's episode length follows a ``seqrl.Curriculum``: it grows when the student's
  mean IoU over an episode beats the mean IoU of the chunk's teachers ``patience`` times.

``--objective`` gives the ablations of Table 2: ``kd-rl`` (TRAS: half distilling, half
autonomous), ``kd`` (all distilling), ``gt`` (all workers regress the ground-truth action with
L1, no teacher, no RL), ``kd-gt`` (half distilling, half ground truth).

The run is a sequence of *rounds*, each one ``seqrl.run_a3c`` call of ``episodes_per_round``
episodes per worker; ``trackkit.train.run_training`` drives the rounds (one round = one step of
the shared loop): its checkpoint holds the student, the shared RAdam moments
(``A3CResult.optimizer_state``, passed back into the next round) and every worker's curriculum,
so ``--resume`` continues where a run stopped; worker ``i`` of round ``k`` is seeded
``seed + k * W + i``, so in the deterministic single-process mode a resumed run ends with
the weights of an uninterrupted one.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

import seqrl
from distill import action_distillation_mask, masked_action_distillation_loss, select_best_teacher
from trackkit.data import ImageFiles, read_image
from trackkit.data import Sequence as SotSequence
from trackkit.sot.tras import (
    DEFAULT_TEACHERS,
    StudentConfig,
    TRASStudent,
    clamp_box_size,
    save_student,
    student_crops,
)
from trackkit.train._loop import TrainState, run_training
from trackkit.train._tras_data import TRASChunk
from trackkit.train._tras_pretrain import TRASPretrainConfig, pretrain_tras

__all__ = [
    "TRAS_OBJECTIVES",
    "TRASEnv",
    "TRASEpisodeData",
    "TRASLossHook",
    "TRASTrainConfig",
    "make_tras_env",
    "train_tras",
    "tras_policy_step",
    "tras_worker_role",
]

#: Training objectives (Table 2 of Dunnhofer et al. 2020).
TRAS_OBJECTIVES: tuple[str, ...] = ("kd-rl", "kd", "gt", "kd-gt")

# progress tensor columns (one row per worker, in shared memory)
_LEN, _WINS, _EPISODES, _IOU, _TEACHER_IOU = range(5)


def tras_worker_role(objective: str, worker_id: int) -> str:
    """``"kd"`` (distilling), ``"rl"`` (autonomous) or ``"gt"`` (ground-truth L1) for a worker."""
    if objective == "kd-rl":
        return "kd" if worker_id % 2 == 0 else "rl"
    if objective == "kd":
        return "kd"
    if objective == "gt":
        return "gt"
    if objective == "kd-gt":
        return "kd" if worker_id % 2 == 0 else "gt"
    raise ValueError(f"objective must be one of {TRAS_OBJECTIVES}, got {objective!r}")


@dataclass(frozen=True)
class TRASEpisodeData:
    """What a worker needs to play episodes: the frames of each sequence (a tuple of image paths,
    read when needed, or any ``trackkit.data.FrameSource`` such as in-memory synthetic frames)
    and the chunks."""

    frames: tuple[Any, ...]
    chunks: tuple[TRASChunk, ...]


class TRASEnv:
    """One training video chunk played by a student (the MDP of Sec. 3.2).

    ``reset()`` draws a chunk and a start inside it, puts the box on the ground truth of the
    first frame and returns the state of the next frame; ``step(action)`` moves the box with
    ``seqrl.apply_box_action`` (psi), rewards it by eq. 2 and returns the next state. An
    observation is a dict: ``crops`` (``uint8 [2, S, S, 3]``), ``target_action``
    (``phi(g_t, b_{t-1})``), ``teacher_action`` (``phi`` of the best teacher's box, eq. 4),
    ``teacher_reward`` (eq. 2 of the box that action reaches) and the worker's ``role``.
    """

    def __init__(
        self,
        worker_id: int,
        seed: int,
        *,
        data: TRASEpisodeData,
        role: str,
        progress: Tensor,
        curriculum: seqrl.CurriculumConfig,
        student: StudentConfig,
    ) -> None:
        if not data.chunks:
            raise ValueError("the transfer set has no chunk")
        self.worker_id = worker_id
        self.rng = np.random.default_rng(seed)
        self.data = data
        self.role = role
        self.progress = progress
        self.curriculum = seqrl.Curriculum(curriculum)
        row = progress[worker_id]
        if row[_LEN] > 0:  # continue the curriculum of the previous round
            self.curriculum.length = int(row[_LEN])
            self.curriculum.wins = int(row[_WINS])
        self.student = student
        self.actions = seqrl.BoxActionConfig(student.max_shift, student.max_scale)
        self._frames: dict[tuple[int, int], np.ndarray] = {}

    def _frame(self, index: int) -> np.ndarray:
        key = (self.sequence, index)
        frame = self._frames.get(key)
        if frame is None:
            source = self.data.frames[self.sequence]
            if isinstance(source, tuple):
                frame = read_image(source[index])
            else:
                frame = np.asarray(source[index])
            if len(self._frames) >= 2:
                self._frames.pop(next(iter(self._frames)))
            self._frames[key] = frame
        return frame

    def reset(self) -> dict[str, Any]:
        """Start an episode on a random chunk; return the first state."""
        chunk = self.data.chunks[int(self.rng.integers(len(self.data.chunks)))]
        steps = min(self.curriculum.length, len(chunk.frames) - 1)
        start = int(self.rng.integers(0, len(chunk.frames) - steps))
        sl = slice(start, start + steps + 1)
        self.sequence = chunk.sequence
        self.indices = [int(i) for i in chunk.frames[sl]]
        self.gt = torch.as_tensor(chunk.gt_xywh[sl], dtype=torch.float32)
        self.teachers = torch.as_tensor(chunk.teacher_xywh[:, sl], dtype=torch.float32)
        self.steps = steps
        self.t = 0
        self.box = self.gt[0].clone()
        first = self._frame(self.indices[0])
        self.frame_wh = torch.tensor([first.shape[1], first.shape[0]], dtype=torch.float32)
        self.ious: list[float] = []
        self.teacher_ious: list[float] = []
        return self._observation()

    def _observation(self) -> dict[str, Any]:
        t = self.t + 1
        prev, cur = self._frame(self.indices[t - 1]), self._frame(self.indices[t])
        crops = student_crops(
            [prev],
            [cur],
            self.box.double().numpy()[None],
            crop_size=self.student.crop_size,
            context=self.student.context,
        )[0]
        g = self.gt[t]
        best = select_best_teacher(self.teachers[:, t], g)
        teacher_action = seqrl.box_action_to_target(self.box, best.boxes_xywh, config=self.actions)
        teacher_iou = seqrl.box_action_iou(teacher_action, self.box, g, config=self.actions)
        return {
            "crops": torch.from_numpy(crops),
            "target_action": seqrl.box_action_to_target(self.box, g, config=self.actions),
            "teacher_action": teacher_action,
            "teacher_reward": seqrl.quantised_iou_reward(teacher_iou.reshape(1))[0],
            "role": self.role,
        }

    def step(self, action: Tensor) -> tuple[dict[str, Any] | None, float, bool]:
        """Apply ``action``; return ``(next_state, r_t, done)`` (no state after the last)."""
        self.t += 1
        g = self.gt[self.t]
        box = seqrl.apply_box_action(action.detach().float(), self.box, config=self.actions)
        self.box = clamp_box_size(box, self.frame_wh)
        iou = seqrl.box_iou_xywh(self.box, g).clamp(0.0, 1.0)
        reward = float(seqrl.quantised_iou_reward(iou.reshape(1))[0])
        self.ious.append(float(iou))
        teacher = seqrl.box_iou_xywh(self.teachers[:, self.t], g.expand_as(self.teachers[:, 0]))
        self.teacher_ious.append(float(teacher.mean()))
        done = self.t >= self.steps
        if done:
            mine, theirs = float(np.mean(self.ious)), float(np.mean(self.teacher_ious))
            self.curriculum.update(mine, theirs)
            row = self.progress[self.worker_id]
            row[_LEN] = self.curriculum.length
            row[_WINS] = self.curriculum.wins
            row[_EPISODES] += 1
            row[_IOU] += mine
            row[_TEACHER_IOU] += theirs
            return None, reward, True
        return self._observation(), reward, False


def make_tras_env(
    worker_id: int,
    seed: int,
    *,
    data: TRASEpisodeData,
    objective: str,
    progress: Tensor,
    curriculum: seqrl.CurriculumConfig,
    student: StudentConfig,
) -> TRASEnv:
    """``make_env(worker_id, seed)`` for ``seqrl.run_a3c`` (bind the rest with a partial)."""
    return TRASEnv(
        worker_id,
        seed,
        data=data,
        role=tras_worker_role(objective, worker_id),
        progress=progress,
        curriculum=curriculum,
        student=student,
    )


def tras_policy_step(
    model: TRASStudent,
    observation: dict[str, Any],
    memory: Any,
    *,
    sample: bool,
    min_sigma: float = 0.05,
) -> tuple[seqrl.ActorOutput, Any]:
    """The student's step for ``seqrl.run_a3c``: Gaussian actions for autonomous workers
    (``sigma = |mu - phi(g_t, b_{t-1})|``, floored at ``min_sigma``), the mean otherwise.

    The frozen trunk's maps are memoised in the observation, so the bootstrap value and the
    next segment's first step share one trunk pass.
    """
    maps = observation.get("_trunk")
    if maps is None:
        maps = model.trunk_features(observation["crops"].unsqueeze(0))
        observation["_trunk"] = maps
    mu, v, memory = model.step(model.encode_trunk(maps), memory)
    mu, v = mu[0], v[0]
    sigma = seqrl.gaussian_box_sigma(mu, observation["target_action"], min_sigma=min_sigma)
    mode = "sample" if sample and observation["role"] == "rl" else "argmax"
    action, log_prob = seqrl.sample_box_action(mu, sigma, mode=mode)
    aux = {
        "mu": mu,
        "target_action": observation["target_action"],
        "teacher_action": observation["teacher_action"],
        "teacher_reward": observation["teacher_reward"],
        "model": model,
    }
    return seqrl.ActorOutput(action=action, log_prob=log_prob, value=v, aux=aux), memory


@dataclass(frozen=True)
class TRASLossHook:
    """The loss of each worker (``seqrl.LossHook``): eq. 3 + weight decay for distilling
    workers, ground-truth L1 for ``gt`` workers, the scaled actor-critic loss for autonomous
    ones."""

    objective: str
    weight_decay: float = 1e-4

    def __call__(self, worker_id: int, ac_loss: Tensor, segment: seqrl.Segment) -> Tensor:
        """Return the loss worker ``worker_id`` back-propagates for ``segment``."""
        role = tras_worker_role(self.objective, worker_id)
        if role == "rl":
            return ac_loss
        aux = [s.output.aux for s in segment.steps]
        mu = torch.stack([a["mu"] for a in aux])  # [T, 4]
        if role == "gt":
            target = torch.stack([a["target_action"] for a in aux])
            mask = torch.ones(len(aux), dtype=mu.dtype)
        else:
            target = torch.stack([a["teacher_action"] for a in aux])
            student_r = torch.tensor([s.r_t for s in segment.steps], dtype=mu.dtype)
            teacher_r = torch.stack([a["teacher_reward"] for a in aux]).to(mu.dtype)
            mask = action_distillation_mask(student_r, teacher_r)
        loss = masked_action_distillation_loss(mu[None], target[None], mask[None])
        if self.weight_decay > 0:
            params = [p for p in aux[0]["model"].parameters() if p.requires_grad]
            loss = loss + 0.5 * self.weight_decay * sum(p.pow(2).sum() for p in params)
        return loss


@dataclass(frozen=True)
class TRASTrainConfig:
    """Options of :func:`train_tras` (paper values in brackets where ours differ).

    Attributes:
        objective: one of :data:`TRAS_OBJECTIVES`.
        workers: A3C workers ``W`` [paper: up to 24].
        rounds: ``seqrl.run_a3c`` calls (steps of the shared training loop).
        episodes_per_round: episodes each worker plays per round.
        t_max: steps between gradient pushes (paper: 5).
        gamma: discount [paper: 1]; < 1 keeps the value of our short chunks bounded.
        optimizer: ``"radam"`` (paper) or ``"adam"``. RAdam's rectification damps its first
            ~1000 updates (beta2 = 0.999), so very short runs (tests) learn faster with Adam.
        lr: learning rate [paper: 1e-6 for 10 days of training].
        rl_loss_scale: scale of ``L_pi + L_v`` [paper: 1e-3; with it the autonomous worker's
            noisy policy gradient undid the distillation in our short runs].
        weight_decay: added to the distillation loss (paper: 1e-4).
        min_sigma: floor of the Gaussian's sigma.
        max_grad_norm: per-worker gradient clipping (None = off).
        beta: transfer-set filter threshold (paper: 0.5).
        chunk_length: frames per chunk (paper: 32).
        chunks_per_frame: random chunks per frame of a sequence.
        curriculum: ``seqrl.CurriculumConfig`` values: episodes start at 4 steps and grow by
            3 (up to 31) after 3 consecutive wins; a win is a mean IoU above the teachers'
            mean IoU on the same frames minus 0.1 (``margin``).
        teachers: teacher names (``trackkit.sot.tras.TEACHER_NAMES``).
        student: the student's architecture.
        seed: base seed.
        multiprocess: False runs the workers round-robin in one process (deterministic).
        pretrain: ``TRASPretrainConfig`` values of the batched warm start on replayed windows
            that runs before the A3C rounds (``epochs = 0``, the default, skips it).
    """

    objective: str = "kd-rl"
    workers: int = 2
    rounds: int = 20
    episodes_per_round: int = 40
    t_max: int = 5
    gamma: float = 0.9
    optimizer: str = "radam"
    lr: float = 3e-4
    rl_loss_scale: float = 1e-4
    weight_decay: float = 1e-4
    min_sigma: float = 0.05
    max_grad_norm: float | None = 10.0
    beta: float = 0.5
    chunk_length: int = 32
    chunks_per_frame: float = 0.25
    curriculum: dict[str, Any] = field(
        default_factory=lambda: {
            "initial_length": 4,
            "max_length": 31,
            "growth": 3,
            "patience": 3,
            "margin": -0.1,
        }
    )
    teachers: tuple[str, ...] = DEFAULT_TEACHERS
    student: dict[str, Any] = field(default_factory=lambda: StudentConfig().to_dict())
    seed: int = 0
    multiprocess: bool = True
    pretrain: dict[str, Any] = field(default_factory=lambda: asdict(TRASPretrainConfig()))

    def __post_init__(self) -> None:
        tras_worker_role(self.objective, 0)
        for name in ("workers", "rounds", "episodes_per_round", "t_max", "chunk_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.objective in ("kd-rl", "kd-gt") and self.workers < 2:
            raise ValueError(f"objective {self.objective!r} needs at least 2 workers")
        seqrl.CurriculumConfig(**self.curriculum)
        StudentConfig(**self.student)
        TRASPretrainConfig(**self.pretrain)
        seqrl.OptimizerConfig(name=self.optimizer, lr=self.lr)


def _metrics(progress: Tensor, objective: str, elapsed: float, env_steps: int) -> dict[str, Any]:
    out: dict[str, Any] = {"env_steps": env_steps, "round_s": round(elapsed, 1)}
    for role in ("kd", "rl", "gt"):
        rows = [i for i in range(progress.shape[0]) if tras_worker_role(objective, i) == role]
        episodes = float(sum(progress[i, _EPISODES] for i in rows))
        if not rows or episodes == 0:
            continue
        out[f"iou_{role}"] = round(float(sum(progress[i, _IOU] for i in rows)) / episodes, 4)
        out[f"teacher_iou_{role}"] = round(
            float(sum(progress[i, _TEACHER_IOU] for i in rows)) / episodes, 4
        )
        out[f"length_{role}"] = float(np.mean([float(progress[i, _LEN]) for i in rows]))
    return out


def train_tras(
    config: TRASTrainConfig,
    data: TRASEpisodeData,
    out_dir: str | Path,
    *,
    resume: str | Path | None = None,
    stop_after: int | None = None,
    progress: bool = True,
    pretrained: bool = True,
    trunk_weights: str | Path | None = None,
    replay_cache: str | Path | None = None,
    device: torch.device | str = "cpu",
) -> tuple[TRASStudent, Path | None]:
    """Train a student; returns it and ``OUT/student.pt`` (None when stopped early).

    With ``config.pretrain["epochs"] > 0`` the batched warm start (``pretrain_tras``) runs
    first in ``OUT/pretrain`` (its trunk maps cached in ``replay_cache``, default that folder)
    and A3C starts from its best epoch; it is skipped when ``resume`` names an existing A3C
    state (which holds the student). Writes ``OUT/train_state.pt`` after every round
    (resumable), ``OUT/log.jsonl`` (one line per round: mean episode IoU of each role and of
    the teachers on the same frames, curriculum lengths, environment steps, seconds) and, when
    all rounds are done, ``OUT/student.pt``.

    ``device`` is where the batched warm start runs (trunk maps and minibatches; a GPU helps
    there). The A3C phase runs its workers as CPU processes sharing the student's memory
    (Hogwild-style, as A3C is defined), so the student is moved back to the CPU after the warm
    start and the returned student is on the CPU.
    """
    out = Path(out_dir)
    student_cfg = StudentConfig(**config.student)
    torch.manual_seed(config.seed)
    model = TRASStudent(student_cfg, pretrained=pretrained, trunk_weights=trunk_weights)
    prog = torch.zeros(config.workers, 5, dtype=torch.float64).share_memory_()
    state = TrainState(
        modules={"student": model},
        config=json_config(config),
        extra={"progress": prog.clone(), "a3c_optimizer": []},
    )
    warm = TRASPretrainConfig(**config.pretrain)
    resuming = resume is not None and Path(resume).exists()
    warm_summary: dict[str, Any] | None = None
    if warm.epochs > 0 and not resuming:
        warm_summary = pretrain_tras(
            model.to(device),
            data,
            warm,
            out / "pretrain",
            objective=config.objective,
            gamma=config.gamma,
            cache_dir=replay_cache,
            progress=progress,
        )
        model.cpu()
        resume = None
    elif warm.epochs > 0 and (out / "pretrain" / "student_best.pt").exists():
        saved = torch.load(
            out / "pretrain" / "student_best.pt", map_location="cpu", weights_only=True
        )
        warm_summary = dict(saved["meta"].get("warm_start", {}))
    hook = TRASLossHook(config.objective, config.weight_decay)
    policy = functools.partial(tras_policy_step, min_sigma=config.min_sigma)
    curriculum = seqrl.CurriculumConfig(**config.curriculum)

    def step_fn(step: int) -> dict[str, Any]:
        prog.copy_(state.extra["progress"])
        prog[:, _EPISODES:] = 0.0
        make_env = functools.partial(
            make_tras_env,
            data=data,
            objective=config.objective,
            progress=prog,
            curriculum=curriculum,
            student=student_cfg,
        )
        a3c = seqrl.A3CConfig(
            num_workers=config.workers,
            episodes_per_worker=config.episodes_per_round,
            t_max=config.t_max,
            gamma=config.gamma,
            rl_loss_scale=config.rl_loss_scale,
            max_grad_norm=config.max_grad_norm,
            optimizer=seqrl.OptimizerConfig(name=config.optimizer, lr=config.lr),
            multiprocess=config.multiprocess,
            seed=config.seed + step * config.workers,
        )
        saved = state.extra["a3c_optimizer"]
        result = seqrl.run_a3c(
            model, make_env, policy, a3c, loss_hook=hook, optimizer_state=saved or None
        )
        state.extra["a3c_optimizer"] = result.optimizer_state
        state.extra["progress"] = prog.clone()
        return _metrics(prog, config.objective, result.elapsed_s, result.env_steps)

    result = run_training(
        step_fn,
        state,
        out,
        steps=config.rounds,
        resume=resume,
        may_change=("rounds",),
        checkpoint_every=1,
        log_every=1,
        stop_after=stop_after,
        progress=progress,
        desc=f"tras {config.objective}",
    )
    if not result.finished:
        return model, None
    path = save_student(
        model,
        out / "student.pt",
        meta={
            "objective": config.objective,
            "rounds": config.rounds,
            "train_seconds": round(result.elapsed_s, 1),
            "teachers": list(config.teachers),
            "warm_start_epochs": warm.epochs,
            **({"warm_start": warm_summary} if warm_summary is not None else {}),
        },
    )
    return model, path


def json_config(config: TRASTrainConfig) -> dict[str, Any]:
    """The config as a JSON-compatible dict (tuples become lists)."""
    d = asdict(config)
    d["teachers"] = list(d["teachers"])
    return d


def tras_episode_data(
    sequences: Sequence[SotSequence], chunks: Sequence[TRASChunk]
) -> TRASEpisodeData:
    """Bundle the frames of ``sequences`` (image files as path tuples) with the chunks."""
    frames = tuple(
        tuple(str(p) for p in s.frames.paths) if isinstance(s.frames, ImageFiles) else s.frames
        for s in sequences
    )
    return TRASEpisodeData(frames, tuple(chunks))
