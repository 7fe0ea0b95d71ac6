from corpus.text import normalize, split_sentences, words


def texts(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_abbreviations_initials_and_decimals_do_not_end_sentences():
    text = "M. Dupont a vu le Dr. Martin à 9 h. Il mesure 1.75 m et pèse 70,5 kg. J. Verne l’a écrit."
    assert texts(text) == [
        "M. Dupont a vu le Dr. Martin à 9 h.",
        "Il mesure 1.75 m et pèse 70,5 kg.",
        "J. Verne l’a écrit.",
    ]


def test_etc_ends_a_sentence_only_before_a_capital():
    assert texts("Des pommes, des poires, etc. Puis du pain.") == ["Des pommes, des poires, etc.", "Puis du pain."]
    assert texts("Des pommes, etc. et du pain.") == ["Des pommes, etc. et du pain."]


def test_ellipses_questions_and_quotes():
    text = "Il hésite… puis part. Vraiment ? Oui ! Il dit : « C’est fini. » Ensuite il dort... Fin."
    assert texts(text) == [
        "Il hésite… puis part.",
        "Vraiment ?",
        "Oui !",
        "Il dit : « C’est fini. »",
        "Ensuite il dort...",
        "Fin.",
    ]


def test_line_breaks_always_split_and_offsets_are_exact():
    text = "Titre court\n\nUne phrase ici.  Une autre là 🫀.\nDernière ligne"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["Titre court", "Une phrase ici.", "Une autre là 🫀.", "Dernière ligne"]
    assert all(text[s:e] == text[s:e].strip() for s, e in spans)


def test_split_inside_a_range_keeps_absolute_offsets():
    text = "Avant. Milieu un. Milieu deux. Après."
    start = text.index("Milieu")
    end = text.index(" Après")
    assert [text[s:e] for s, e in split_sentences(text, start, end)] == ["Milieu un.", "Milieu deux."]


def test_normalize_folds_quotes_ligatures_case_and_accents_for_matching_only():
    original = "L’Œil du Cœur — « Élan »"
    assert normalize(original) == 'l\'oeil du coeur - " elan "'
    assert normalize(original, strip_accents=False) == 'l\'oeil du coeur - " élan "'
    assert original == "L’Œil du Cœur — « Élan »"
    assert words("Tendon d’Achille") == words("tendon d'achille") == ["tendon", "d", "achille"]


def test_very_long_text_splits_quickly_and_completely():
    text = "Une phrase assez longue pour compter. " * 20000
    spans = split_sentences(text)
    assert len(spans) == 20000
    assert text[spans[-1].start : spans[-1].end] == "Une phrase assez longue pour compter."
