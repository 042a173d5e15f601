"""Prompt normalisation and lemmas: each way of hiding a word is undone, ordinary words stay ordinary."""

import pytest

from cosmos_sim.errors import ConfigError
from cosmos_sim.guardrail.lemmas import Lemmatizer, load_wordnet, rule_lemmas, wordnet_available
from cosmos_sim.guardrail.text import normalise, tokens, word_forms


def test_normalise_folds_case_accents_invisible_and_look_alike_letters():
    assert normalise("MÚRDER") == "murder"
    assert normalise("po\u200brn") == "porn"
    assert normalise("\u0440orn") == "porn"  # Cyrillic er
    assert normalise("Ρorn") == "porn"  # Greek capital rho


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("k1ll", "kill"),
        ("b0mb", "bomb"),
        ("$ex", "sex"),
        ("n4k3d", "naked"),
        ("r@pe", "rape"),
        ("h3r01n", "heroin"),
    ],
)
def test_leetspeak_is_decoded(typed, meant):
    assert meant in word_forms(typed)


def test_repeated_letters_collapse_to_one_two_or_three():
    assert {"kill", "kil"} <= word_forms("kiiiilll")
    assert "shoot" in word_forms("shooooot")
    assert "kkk" in word_forms("kkkkk") and "kkkkk" in word_forms("kkkkk")


def test_numbers_and_punctuation_stay_what_they_are():
    assert word_forms("2024") == {"2024"}
    assert word_forms("stop!") == {"stop"}
    assert [t.text for t in tokens("A robot, at 3.5 m/s!")] == ["a", "robot", "at", "3", "5", "m", "s!"]


def test_token_offsets_point_into_the_normalised_text():
    text = "The  GUN fires"
    norm = normalise(text)
    assert [norm[t.start : t.end] for t in tokens(text)] == ["the", "gun", "fires"]


@pytest.mark.parametrize(
    "word, base",
    [
        ("guns", "gun"),
        ("knives", "knife"),
        ("bodies", "body"),
        ("stabbed", "stab"),
        ("stabbing", "stab"),
        ("massacred", "massacre"),
        ("shootings", "shoot"),
    ],
)
def test_suffix_rules_find_the_base_form(word, base):
    assert base in rule_lemmas(word) and word in rule_lemmas(word)


def test_rule_lemmatizer_knows_only_function_words():
    lem = Lemmatizer("off")
    assert lem.source == "rules" and lem.known("the") and not lem.known("piston")


@pytest.mark.skipif(not wordnet_available(), reason="no WordNet data (apt-get install wordnet-base)")
def test_wordnet_lemmas_and_vocabulary():
    lem = Lemmatizer("auto")
    assert lem.source.startswith("wordnet")
    assert "knife" in lem.lemmas("knives") and "kill" in lem.lemmas("killing")
    assert lem.known("piston") and lem.known("heading") and not lem.known("murdr")
    assert lem.lemmas("gripper") == rule_lemmas("gripper")  # not in WordNet: the rules take over


def test_a_wordnet_directory_that_is_not_one_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not a WordNet 3.0 database directory"):
        load_wordnet(str(tmp_path))
