"""The unified social credit code and its GB 32100-2015 check character."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.firms.uscc import ALPHABET, check_character, generate, is_valid, normalise, uscc_error

# Codes printed on real business licences.
REAL_CODES = [
    "91330100799655058B",
    "91110000802100433B",
    "91440300708461136T",
    "9144030071526726XG",
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code):
    assert uscc_error(code) is None
    assert is_valid(code)


@pytest.mark.parametrize("code", REAL_CODES)
def test_the_check_character_is_the_last_one(code):
    assert check_character(code[:17]) == code[17]


@pytest.mark.parametrize("code", REAL_CODES)
@pytest.mark.parametrize("position", [0, 5, 10, 16, 17])
def test_one_changed_character_fails_the_check(code, position):
    original = code[position]
    replacement = next(c for c in "0123456789" if c != original)
    typo = code[:position] + replacement + code[position + 1 :]
    assert uscc_error(typo) == "check"


def test_swapped_neighbours_fail_the_check():
    code = "91330100799655058B"
    swapped = code[:11] + code[12] + code[11] + code[13:]
    assert swapped != code
    assert uscc_error(swapped) == "check"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("91330100799655058b", "91330100799655058B"),
        (" 9133 0100 7996 5505 8B ", "91330100799655058B"),
        ("9144030071526726xg\n", "9144030071526726XG"),
        ("9133\u30000100799655058B", "91330100799655058B"),  # ideographic space
        # A Chinese input method in full-width mode types these.
        ("９１３３０１００７９９６５５０５８Ｂ", "91330100799655058B"),
    ],
)
def test_lower_case_spaces_and_full_width_characters_are_normalised(typed, expected):
    assert normalise(typed) == expected
    assert is_valid(normalise(typed))


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_letters_outside_the_alphabet_are_refused(letter):
    code = "91330100799655058" + letter
    assert uscc_error(code) == "characters"
    assert uscc_error(letter + code[1:]) == "characters"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("", "length"),
        ("91330100799655058", "length"),
        ("91330100799655058BB", "length"),
        ("9133010079965505-B", "characters"),
        ("91A30100799655058B", "division"),
    ],
)
def test_malformed_codes_say_why(code, reason):
    assert uscc_error(code) == reason


def test_the_alphabet_has_31_characters_without_the_forbidden_letters():
    assert len(ALPHABET) == 31
    assert not set("IOZSV") & set(ALPHABET)


@given(seed=st.integers(min_value=0, max_value=2**32))
def test_generated_codes_are_always_valid(seed):
    code = generate(random.Random(seed))
    assert len(code) == 18
    assert uscc_error(code) is None


@given(
    seed=st.integers(min_value=0, max_value=2**32),
    division=st.sampled_from(["310105", "110101", "440300", "330100"]),
)
def test_generated_codes_carry_the_division(seed, division):
    code = generate(random.Random(seed), division)
    assert code[2:8] == division
    assert code.startswith("91")
    assert is_valid(code)


@given(seed=st.integers(min_value=0, max_value=2**32), position=st.integers(0, 16), data=st.data())
def test_any_single_substitution_in_a_generated_code_is_caught(seed, position, data):
    code = generate(random.Random(seed))
    replacement = data.draw(st.sampled_from([c for c in ALPHABET if c != code[position]]))
    typo = code[:position] + replacement + code[position + 1 :]
    # A changed division digit to a letter is a "division" error; anything else is "check".
    assert uscc_error(typo) in ("check", "division")
    assert not is_valid(typo)
