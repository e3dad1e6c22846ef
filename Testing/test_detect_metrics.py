"""Detection metrics and box handling against values worked out by hand on small known inputs."""
import numpy as np
import pytest
import torch
from monai.data.box_utils import non_max_suppression

from gdbackend.boxes import check_boxes, label_boxes
from gdbackend.detect.box_lists import read_boxes, write_boxes
from gdbackend.detect.metrics import coco_map, froc, lesions_found
from gdbackend.detect.slices25d.merge import greedy_nms, link_slices, merge_slices
from gdbackend.errors import InputError
from gdbackend.volume import Volume

# volume 1: lesions A = [0,10]^3 and B = [20,30]^3; volume 2: lesion C = [0,4]^3
TRUTH = [np.array([[0, 0, 0, 10, 10, 10], [20, 20, 20, 30, 30, 30]], float), np.array([[0, 0, 0, 4, 4, 4]], float)]
PRED = [(np.array([[0, 0, 0, 10, 10, 10],        # hits A, score 0.9
                   [50, 50, 50, 60, 60, 60],     # false positive, 0.8
                   [1, 1, 1, 10, 10, 10]], float),  # hits A again (IoU 0.729), 0.5
         np.array([0.9, 0.8, 0.5])),
        (np.array([[0, 0, 0, 4, 4, 4]], float), np.array([0.3]))]   # hits C, 0.3


def test_froc_by_hand():
    # LUNA16: A counts once at 0.9, C at 0.3; the second hit on A is neither TP nor FP; FP scores: 0.8.
    # threshold 0.9: 1/3 sens at 0 FP; 0.8: 1/3 at 0.5 FP/vol; 0.3: 2/3 at 0.5 FP/vol
    m = froc(PRED, TRUTH)
    assert m["sensitivity@0.125"] == pytest.approx(1 / 3) and m["sensitivity@0.25"] == pytest.approx(1 / 3)
    for rate in ("0.5", "1", "2", "4", "8"):
        assert m[f"sensitivity@{rate}"] == pytest.approx(2 / 3)
    assert m["cpm"] == pytest.approx((2 * 1 / 3 + 5 * 2 / 3) / 7)


def test_froc_ignores_small_lesions_and_their_hits():
    m = froc(PRED, TRUTH, ignore=[np.array([False, False]), np.array([True])])   # C ignored: 1 of 2 found
    assert m["sensitivity@8"] == pytest.approx(0.5)


def test_lesions_found_at_an_operating_point():
    # one FP (0.8) in 2 volumes: at 1/4 FP/volume no FP is allowed, so only A (0.9 > 0.8) counts, as FROC says;
    # at 1/2 and more the FP is allowed and C (0.3) counts too; B is never hit
    def at(rate: float, **options) -> list[list[bool]]:
        return [f.tolist() for f in lesions_found(PRED, TRUTH, rate, **options)]

    assert at(0.25) == [[True, False], [False]]
    assert at(1.0) == [[True, False], [True]]
    assert at(1.0, ignore=[np.array([False, False]), np.array([True])]) == [[True, False], [False]]


def test_map_by_hand():
    # COCO matching at IoU 0.5: 0.9 TP, 0.8 FP, 0.5 FP (A already matched), 0.3 TP, 3 lesions.
    # precision envelope: 1 up to recall 1/3 (34 of the 101 recall points), 0.5 up to 2/3 (33 points)
    m = coco_map(PRED, TRUTH)
    assert m["map50"] == pytest.approx((34 + 33 * 0.5) / 101)
    assert m["map"] == pytest.approx(m["map50"])   # every hit is exact, so every IoU threshold agrees
    perfect = coco_map([(t, np.ones(len(t))) for t in TRUTH], TRUTH)
    assert perfect["map50"] == pytest.approx(1.0) and perfect["map"] == pytest.approx(1.0)


def test_label_components_become_physical_boxes():
    label = np.zeros((10, 20, 30), np.uint8)
    label[2:4, 5:8, 10:20] = 1
    label[7, 15, 25] = 3
    volume = Volume(label, spacing=(0.5, 1.0, 2.0), origin=(10.0, 20.0, 30.0), direction=np.diag([-1.0, 1.0, 1.0]))
    boxes = label_boxes(volume)
    # x = 10 - 0.5 i (flipped axis), y = 20 + j, z = 30 + 2 k, each voxel +-half a spacing
    np.testing.assert_allclose(boxes[0], [10 - 0.5 * 19.5, 20 + 4.5, 30 + 3, 10 - 0.5 * 9.5, 20 + 7.5, 30 + 7])
    np.testing.assert_allclose(boxes[1], [10 - 0.5 * 25.5, 34.5, 43, 10 - 0.5 * 24.5, 35.5, 45])


def test_slices_merge_into_one_3d_box_with_weighted_plane():
    grid = Volume(np.zeros((5, 8, 8)), spacing=(1.0, 1.0, 2.0), origin=(0.0, 0.0, 0.0))
    per_slice = {1: (np.array([[2, 2, 4, 4.]]), np.array([0.9])), 2: (np.array([[2, 2, 5, 5.]]), np.array([0.3])),
                 4: (np.array([[0, 0, 1, 1.]]), np.array([0.8]))}   # an isolated box two slices away
    boxes, scores = merge_slices(per_slice, grid)
    # slices 1-2 overlap (IoU 4/9) and link: plane = (0.9 [2,2,4,4] + 0.3 [2,2,5,5]) / 1.2 = [2, 2, 4.25, 4.25],
    # score (0.9+0.3)/2; pixel p -> mm p - 0.5 in plane; slices 1..2 -> k in [1, 3) -> z = 2 (k - 0.5)
    np.testing.assert_allclose(boxes[0], [1.5, 1.5, 1.0, 3.75, 3.75, 5.0])
    np.testing.assert_allclose(scores, [0.6, 0.4])   # single-slice lesion: half its score


def test_each_box_links_to_the_best_open_track_not_taken_on_its_slice():
    """Two boxes on slice 1 both overlap slice 0's first box best: the better-scored one takes that track, the
    other takes the second track; a track survives one empty slice (gap 1) but not two."""
    per_slice = {0: (np.array([[0, 0, 10, 10.], [0, 0, 8, 10.]]), np.array([0.5, 0.4])),
                 1: (np.array([[0, 0, 9, 10.], [0, 0, 10, 10.]]), np.array([0.3, 0.9])),
                 3: (np.array([[0, 0, 10, 10.]]), np.array([0.7])),
                 6: (np.array([[0, 0, 10, 10.]]), np.array([0.6]))}
    tracks = link_slices(per_slice)
    assert [[(k, s) for k, _, s in t] for t in tracks] == [[(0, 0.5), (1, 0.9), (3, 0.7)], [(0, 0.4), (1, 0.3)],
                                                          [(6, 0.6)]]


@pytest.mark.parametrize("seed", range(4))
def test_greedy_nms_keeps_what_monai_keeps(seed):
    """The blocked NMS keeps MONAI's boxes in MONAI's order, 2D and 3D, whatever the block size."""
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(1, 1200)), 2 + seed % 2
    low = rng.uniform(0, 60, (n, d))
    boxes, scores, iou = np.concatenate([low, low + rng.uniform(1, 25, (n, d))], 1), rng.random(n), rng.uniform(.1, .6)
    expected = non_max_suppression(torch.as_tensor(boxes), torch.as_tensor(scores), iou).numpy()
    assert 0 < len(expected) < n
    for block in (1, 37, 512):
        np.testing.assert_array_equal(greedy_nms(boxes, scores, iou, block), expected)


def test_box_lists_round_trip_and_bad_boxes(tmp_path):
    found = {"a.nii.gz": (TRUTH[0], np.array([0.9, 0.1])), "b.nii.gz": (np.zeros((0, 6)), np.zeros(0))}
    for name in ("boxes.json", "boxes.csv"):
        write_boxes(tmp_path / name, found)
        read = read_boxes(tmp_path / name)
        np.testing.assert_allclose(read["a.nii.gz"], TRUTH[0])
    (tmp_path / "empty.json").write_text('{"a.nii.gz": []}')
    with pytest.raises(InputError, match="no boxes"):
        read_boxes(tmp_path / "empty.json")
    volume = Volume(np.zeros((10, 10, 10)))
    with pytest.raises(InputError, match="outside the image"):
        check_boxes([2, 2, 2, 5, 5, 50], volume)
    with pytest.raises(InputError, match="below its high"):
        check_boxes([5, 2, 2, 2, 5, 5], volume)
    with pytest.raises(InputError, match="at least one box"):
        check_boxes(np.zeros((0, 6)), volume)
