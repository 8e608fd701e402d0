# Workcell-synth: the built-in synthetic dataset of operators at a workbench.
# Read by the workcell_synth package (jobs/make_dataset.py). Lengths in meters, angles in degrees,
# times in seconds; a pair (lo, hi) is a uniform range. World frame: the operator stands at the
# origin facing +y (towards the bench and the camera side), x to the operator's right, z up.

dataset_name = 'workcell-synth'
video = dict(fps=15, width=480, height=360)

# Operators per split; --scale multiplies every count. Splits are by operator.
operators = dict(train=36, val=12, test=12)
clips_per_class = 2            # trimmed clips per operator and action class
sequences_per_operator = 4     # untrimmed videos per operator
actions_per_sequence = (3, 5)  # non-idle actions, idle gaps between and around them
action_seconds = (3.5, 5.0)    # one action at speed 1; divided by the video's speed
clip_seconds = (3.0, 6.0)      # a trimmed clip is one action, its length clamped to this range
gap_seconds = (0.6, 2.0)       # idle gaps of untrimmed videos
min_action_frames = 8

operator = dict(
    height_m=(1.55, 1.95),
    arm_factor=(0.9, 1.1),
    shoulder_factor=(0.9, 1.1),
    leg_factor=(0.9, 1.1),
    left_handed_prob=0.2,
    speed_factor=(0.85, 1.2),
    speed_jitter=(0.75, 1.35),        # per video, multiplies the operator's speed factor
    amplitude_jitter=(0.85, 1.15),    # per video, scales target offsets
    rest_offset_m=0.03,               # personal resting hand position, +- per axis
    keyframe_shift=0.03,              # personal timing offset of motion phases (fraction)
    keyframe_jitter=0.03,             # per action timing jitter of motion phases (fraction)
    elbow_out=(0.2, 0.7),             # how far the elbows point outward (IK pole)
    lean_bias_deg=(0.0, 6.0),
)

# Body proportions as fractions of body height (anthropometric averages).
body = dict(
    upper_arm=0.172, forearm=0.157, hand=0.05, thigh=0.245, shank=0.246, ankle=0.039,
    shoulder_height=0.818, head_center=0.915, shoulder_half_width=0.1, hip_half_width=0.055,
    foot_half_width=0.065, leg_straightness=0.985,
    # Head points relative to the head centre, in meters for a person of reference_height_m.
    reference_height_m=1.75,
    nose=(0.0, 0.095, -0.015), eye=(0.032, 0.08, 0.02), ear=(0.075, 0.0, 0.0),
    head_top=(0.0, -0.01, 0.12),
)

posture = dict(
    rest=(0.17, 0.06, 0.05),          # resting dominant wrist: out, past the bench edge, above top
    lean_gain=1.1,                    # torso lean (rad) per meter the hands go past comfort_reach_m
    comfort_reach_m=0.18,             # beyond the bench edge
    max_lean_deg=35.0,
    reach_frac=0.97,                  # lean further where the arm would otherwise not reach
    lean_step_deg=0.5,
    twist_gain=0.35,                  # torso turn towards the dominant hand (fraction of bearing)
    hip_back_per_lean=0.25,           # pelvis moves back by this fraction of torso length * sin
    elbow_forward=-0.3,               # elbow IK pole in the torso frame: outward is per operator
    elbow_up=-1.0,
    hip_twist_ratio=0.3,              # the hips turn this fraction of the torso's twist
    gaze_gain=0.7,                    # head turns this fraction of the way towards the hand
    max_head_pitch_deg=55.0,
    sway_m=(0.005, 0.02),             # pelvis sway amplitude, per axis (sideways, forward)
    sway_hz=(0.1, 0.35),
    tremor_m=(0.002, 0.006),          # wrist wander on top of every motion
    tremor_hz=(0.3, 1.2),
)

bench = dict(
    height_frac=(0.53, 0.58),         # of body height
    edge_distance_frac=(0.1, 0.15),   # operator to the near edge, fraction of body height
    depth_m=(0.6, 0.8),
    half_width_m=(0.6, 0.9),
    center_x_m=(-0.12, 0.12),
    open_prob=0.4,                    # a table (legs visible below the top) instead of a cabinet
    top_thickness_m=0.05,
    # The workstation: every bench holds one of each tool (scanner, screwdriver, power drill,
    # wrench, hammer) all video long, and these extras (count ranges); an action's own objects
    # come on top (its workpiece, the part it handles, a box to pack into).
    station_extras=dict(box=(0, 1), cup=(0, 1), part=(0, 2)),
    station_min_gap_m=0.15,           # between station objects and from the resting hands
    station_margin_m=0.06,
    station_max_abs_x_m=0.6,
    station_tries=200,                # random spots tried; fewer objects when the bench is full
)

# Motion programs, in operator-local coordinates where +x is the dominant side. A target is a
# point on the bench: x lateral, depth beyond the near edge. Targets and offsets scale with the
# video's amplitude jitter and with body height / body.reference_height_m. A path is a chain of
# legs, each taking its weight's share of the action's time. Pairs sharing a motion share a
# program (see the package docstring).
motions = dict(
    legs=dict(approach=1.0, descend=0.4, grasp=0.3, lift=0.4, carry=1.0, release=0.3, back=1.0,
              settle=0.3),
    hover=(0.0, -0.04, 0.12),         # above an object before taking it or putting it down
    hand_above_surface_m=0.04,
    target_gap_m=0.2,                 # a new bench spot keeps this far from objects there
    target_tries=12,
    return_prob=0.5,                  # a used object goes back where it was, else to a new spot
    other_hand_lead=0.08,             # the steadying hand arrives this fraction earlier
    # Moving a spare tool aside (idle, reach): from one free spot to another.
    move_aside=dict(x=(-0.2, 0.45), depth=(0.1, 0.45)),
    idle=dict(drift_m=(0.005, 0.02), drift_hz=(0.1, 0.4), move_aside_prob=0.35,
              move_aside_s=(1.6, 2.4)),
    reach=dict(target=dict(x=(-0.05, 0.4), depth=(0.22, 0.45)), lift=(0.0, -0.08, 0.12),
               move_aside_prob=0.25,
               target_part_prob=0.5),     # reach: a part lies where the hand goes and stays
    place=dict(pickup=dict(x=(-0.05, 0.2), depth=(0.03, 0.12)),
               target=dict(x=(-0.05, 0.4), depth=(0.22, 0.45)),
               body=(0.05, -0.02, 0.22), lift=(0.0, -0.08, 0.1), release_height_m=(0.04, 0.1)),
    raise_up=dict(
        pickup=dict(x=(-0.1, 0.4), depth=(0.08, 0.4)), raise_leg=1.0, hold_leg=3.0,
        up_x=(0.0, 0.12), up_y=(0.22, 0.35), up_z_from_shoulder=(-0.15, 0.08),
        circle_m=(0.01, 0.025), hz=(0.5, 1.2), tilt_deg=(20.0, 45.0)),
    press=dict(
        target=dict(x=(0.0, 0.3), depth=(0.12, 0.3)), tool=dict(x=(-0.15, 0.45),
                                                                 depth=(0.1, 0.45)),
        work_leg=4.0, press_height_m=0.12, steady=(-0.13, 0.02, 0.05),
        circle_m=(0.004, 0.012), hz=(2.0, 5.0), tilt_deg=(15.0, 35.0)),
    hammer=dict(
        target=dict(x=(0.0, 0.3), depth=(0.12, 0.3)), tool=dict(x=(-0.15, 0.45),
                                                                 depth=(0.1, 0.45)),
        work_leg=4.0, ready=(0.0, -0.04, 0.12), nail=(-0.1, 0.03, 0.04),
        lift_m=(0.15, 0.28), hz=(1.2, 2.0), raise_fraction=0.65, back_per_lift=0.3),
    wrench=dict(
        target=dict(x=(0.0, 0.3), depth=(0.15, 0.32)), tool=dict(x=(-0.15, 0.45),
                                                                  depth=(0.1, 0.45)),
        work_leg=4.0, pivot=(0.0, 0.05, 0.08), radius_m=(0.15, 0.22),
        center_deg=(0.0, 30.0), sweep_deg=(40.0, 70.0), hz=(0.6, 1.1), work_fraction=0.65),
    ramp=0.04,                        # fade of periodic overlays at the work phase ends
)

objects = dict(
    # Extents (long axis, width, height) in meters; held objects lie along the forearm.
    extents_m=dict(
        part=(0.07, 0.05, 0.03), box=(0.32, 0.24, 0.14), scanner=(0.16, 0.07, 0.1),
        screwdriver=(0.22, 0.03, 0.03), power_drill=(0.26, 0.08, 0.2),
        wrench=(0.25, 0.04, 0.015), hammer=(0.32, 0.12, 0.03), cup=(0.08, 0.08, 0.1)),
    size_jitter=0.1,
    # Where the grip is: object centre = hand + forearm direction * grip * long extent.
    grip=dict(part=0.0, box=0.0, scanner=0.1, screwdriver=0.3, power_drill=0.1, wrench=0.35,
              hammer=0.35, cup=0.0),
    grasp_blend_s=0.2,                # the object slides into / out of the hand over this time
)

pose_noise = dict(
    jitter_frac=(0.004, 0.012),       # keypoint sigma, fraction of the person's pixel height
    visible_score=(0.6, 1.0),
    occluded_missing_prob=0.5,        # occluded joints: missing, else low score and far off
    occluded_score=(0.05, 0.35),
    occluded_sigma_frac=0.06,
    episodes_per_s=(0.1, 0.5),        # short failures of 1-4 joints
    episode_s=(0.2, 1.0),
    episode_joints=(1, 4),
    episode_missing_prob=0.5,
    wrong_score=(0.1, 0.4),
    wrong_offset_frac=0.08,
    box_margin_frac=0.06,             # person box: joint bounds plus this fraction of its height
    box_jitter_frac=0.02,
    person_score=(0.75, 0.99),
)

detector_noise = dict(
    miss_prob=0.05,
    # Fraction of the frames an object is held during which the hand hides it, in runs of
    # hand_hide_run_s on average: a small part mostly disappears in the fist.
    hand_hides_held=dict(part=0.5, box=0.0, scanner=0.2, screwdriver=0.3, power_drill=0.15,
                         wrench=0.25, hammer=0.15, cup=0.2),
    hand_hide_run_s=0.4,
    # Motion blur: misses start when the box centre moves `start` box sizes per frame and reach
    # probability `miss` at `full` box sizes per frame (so they depend on the frame rate).
    motion_blur=dict(start=0.25, full=1.0, miss=0.6),
    box_jitter_frac=0.05,             # sigma per coordinate, fraction of the box size
    box_jitter_px=0.5,
    score=(0.5, 0.98),
    false_per_frame=(0.0, 1.0),       # per video: mean false detections per frame
    false_score=(0.3, 0.6),
    false_size_px=(8.0, 60.0),
    min_box_px=1.0,
)

camera = dict(
    yaw_deg=(-50.0, 50.0),
    pitch_deg=(5.0, 35.0),
    roll_deg=(-4.0, 4.0),
    hfov_deg=(50.0, 70.0),
    person_height_frac=(0.45, 0.85),
    look_at=(0.0, 0.15, 0.55),        # x, y in meters; z as a fraction of body height
    placement_margin_frac=0.03,
    near_m=0.05,
)

passerby = dict(
    prob=0.3,
    behind_m=(1.0, 3.0),              # beyond the operator, seen from the camera
    speed_mps=(0.9, 1.5),
    step_length_frac=(0.36, 0.42),    # of body height
    hip_swing_deg=(20.0, 30.0),
    knee_bend_deg=(30.0, 50.0),
    arm_swing_ratio=0.6,
    elbow_bend_deg=(10.0, 30.0),
    overshoot_m=1.0,                  # starts and ends this far outside the view
)

render = dict(
    wall_bgr=((120, 120, 120), (225, 225, 215)),   # per video, a colour between these
    floor_bgr=((60, 70, 80), (140, 140, 140)),
    floor_half_size_m=5.0,
    bench_top_bgr=((70, 110, 150), (200, 200, 200)),
    bench_side_bgr=((40, 60, 80), (140, 140, 150)),
    table_leg_px=4,
    texture_cells=6,                  # smooth shading of the background: cells across its height
    texture_strength=0.08,
    # Shelves, posters and cables on the wall; papers and mats on the bench top.
    wall_clutter=dict(count=(3, 12), size_frac=(0.03, 0.25), max_top_frac=0.7, line_prob=0.3,
                      bgr=((0, 0, 0), (255, 255, 255))),
    bench_clutter=dict(count=(0, 4), size_m=(0.08, 0.3), bgr=((0, 0, 0), (255, 255, 255))),
    # Per person and video; the passer-by gets his own.
    clothes=dict(skin_bgr=((50, 80, 120), (180, 200, 240)),
                 shirt_bgr=((10, 10, 10), (240, 240, 240)),
                 trousers_bgr=((10, 10, 10), (160, 160, 160)),
                 hair_bgr=((5, 5, 5), (120, 140, 170)), short_sleeve_prob=0.3),
    body_radius_m=dict(thigh=0.075, shank=0.055, torso=0.14, hips=0.07, shoulders=0.06,
                       neck=0.05, upper_arm=0.045, forearm=0.037, head=0.11),
    limb_samples=5,                   # points per capsule tested against the bench for occlusion
    # Objects: primary colour (handle, body), secondary (metal end, tape, rim); `split`: where
    # along the long axis the primary part ends (1: one colour).
    objects=dict(
        part=dict(primary_bgr=((0, 100, 200), (60, 180, 255)),
                  secondary_bgr=((0, 0, 0), (40, 40, 40)), split=1.0),
        box=dict(primary_bgr=((30, 70, 110), (80, 130, 180)),
                 secondary_bgr=((150, 150, 150), (230, 230, 230)), split=1.0),
        scanner=dict(primary_bgr=((0, 0, 150), (40, 40, 240)),
                     secondary_bgr=((20, 20, 20), (70, 70, 70)), split=0.55),
        screwdriver=dict(primary_bgr=((0, 150, 150), (60, 240, 255)),
                         secondary_bgr=((150, 150, 150), (210, 210, 210)), split=0.45),
        power_drill=dict(primary_bgr=((120, 30, 0), (220, 110, 40)),
                         secondary_bgr=((20, 20, 20), (60, 60, 60)), split=0.7),
        wrench=dict(primary_bgr=((160, 160, 160), (230, 230, 230)),
                    secondary_bgr=((110, 110, 110), (150, 150, 150)), split=0.8),
        hammer=dict(primary_bgr=((20, 20, 90), (70, 90, 160)),
                    secondary_bgr=((40, 40, 40), (90, 90, 90)), split=0.7),
        cup=dict(primary_bgr=((200, 200, 200), (255, 255, 255)),
                 secondary_bgr=((60, 60, 60), (140, 140, 140)), split=1.0)),
    outline_bgr=(20, 20, 20),
    # The camera: multiplicative light (gain, per-channel tint, vignette darkening at the corners,
    # flicker amplitude and frequency), Gaussian blur sigma and sensor noise sigma (pixels,
    # grey levels), JPEG quality before the MP4 encoder.
    sensor=dict(gain=(0.7, 1.2), tint=(0.9, 1.1), vignette=(0.0, 0.35), flicker=(0.0, 0.06),
                flicker_hz=(0.2, 2.0), blur_sigma=(0.0, 1.2), noise_sigma=(1.0, 6.0),
                jpeg_quality=(40, 90)),
)

# COCO-format detection and keypoint files (coco/) of frames sampled from the rendered videos,
# for training the detector and the pose model (jobs.train_detector, jobs.train_pose) and for
# the pixel benchmark (test split, never used in training). Which frames are exported changes
# no pixel of the videos; 12 training frames per video (was 3) give the detector and the pose
# model four times the views of hands and held tools.
coco = dict(frames_per_video=dict(train=12, val=2, test=2), jpeg_quality=95,
            min_box_px=2.0)   # boxes narrower or lower than this are left out
