"""The lesion generator on the real brains: seeded, inside the brain, boxes and labels that agree, the
intensity change it promises, and patches whose class is true."""
import numpy as np
import pytest

from gdbackend.boxes import label_boxes
from gdbackend.errors import InputError
from gdbackend.lesions import brain, lesion_case, lesion_cases, patch_boxes


@pytest.fixture(scope="module")
def cases():
    return lesion_cases(2, seed=5, count=(2, 3))


def test_same_seed_same_case_other_seed_other_case():
    a, b, c = lesion_case("colin27", 2, seed=3), lesion_case("colin27", 2, seed=3), lesion_case("colin27", 2, seed=4)
    assert np.array_equal(a.image.array, b.image.array) and np.array_equal(a.boxes, b.boxes)
    assert not np.allclose(a.boxes, c.boxes)


def test_cases_made_in_parallel_are_the_same_cases(cases):
    parallel = lesion_cases(2, seed=5, count=(2, 3), processes=2)
    assert [c.name for c in parallel] == [c.name for c in cases]
    for a, b in zip(parallel, cases):
        assert np.array_equal(a.image.array, b.image.array) and np.array_equal(a.label.array, b.label.array)


def test_lesions_are_in_the_brain_with_boxes_matching_their_labels(cases):
    assert [c.name.split("_")[0] for c in cases] == ["colin27", "itk"]
    for case in cases:
        original, mask = brain(case.name.rsplit("_", 1)[0])
        labels = case.label.array
        assert set(np.unique(labels)) == set(range(len(case.lesions) + 1))
        assert np.all(mask.array[labels > 0] > 0), "every lesion voxel lies in the brain mask"
        found = label_boxes(case.label)                                 # one connected component per lesion
        np.testing.assert_allclose(found[np.lexsort(found.T)], case.boxes[np.lexsort(case.boxes.T)])
        changed = np.abs(case.image.array - original.array) > 1e-3
        assert not changed[mask.array == 0].any(), "nothing changes outside the brain"
        reference = np.median(original.array[mask.array > 0])
        for n, les in enumerate(case.lesions, start=1):
            assert 3 <= les.diameter <= 20 and 0.1 <= abs(les.contrast) <= 0.6
            inside = labels == n
            shift = (case.image.array[inside] - original.array[inside]).mean() / reference
            assert np.sign(shift) == np.sign(les.contrast) and abs(shift) > 0.3 * abs(les.contrast)
            center = np.asarray(les.center)
            assert np.all(center >= np.asarray(les.box[:3])) and np.all(center <= np.asarray(les.box[3:]))


def test_both_contrasts_and_many_sizes_over_cases():
    lesions = [les for c in lesion_cases(6, seed=11, brains=("itk_t1",), count=(3, 3)) for les in c.lesions]
    contrasts = np.array([les.contrast for les in lesions])
    assert (contrasts > 0).any() and (contrasts < 0).any() and np.abs(contrasts).min() < 0.25
    sizes = np.array([les.diameter for les in lesions])
    assert sizes.min() < 8 and sizes.max() > 14


def test_patches_hold_a_lesion_exactly_when_class_is_present(cases):
    rng = np.random.default_rng(0)
    for case in cases:
        patches = patch_boxes(case, 32.0, negatives=3, rng=rng)
        assert sum(k for _, k in patches) == len(case.lesions) and len(patches) == len(case.lesions) + 3
        for box, k in patches:
            np.testing.assert_allclose(box[3:] - box[:3], 32.0)
            overlaps = np.all(box[:3] < case.boxes[:, 3:], 1) & np.all(box[3:] > case.boxes[:, :3], 1)
            assert overlaps.any() == bool(k)


def test_impossible_requests_are_refused():
    with pytest.raises(InputError, match="diameters"):
        lesion_case("colin27", 1, seed=0, diameter=(5, 2))
    with pytest.raises(InputError, match="Unknown brain"):
        lesion_case("mouse", 1, seed=0)
    with pytest.raises(InputError, match="fewer"):
        lesion_case("itk_t1", 60, seed=0, diameter=(18, 20))
