"""Field rules of products and customers, and the shared checks they are built from."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.customers.model import (
    CustomerFilter,
    CustomerPatch,
    normalise_customer_filter,
    validate_customer_patch,
    validate_new_customer,
)
from domain.errors import ErrorCode, InvalidInput
from domain.products.model import (
    MAX_PRICE,
    MAX_STOCK,
    NewProduct,
    ProductFilter,
    ProductPatch,
    validate_new_product,
    validate_product_filter,
    validate_product_patch,
)
from domain.validation import (
    NAME_MAX_LENGTH,
    SEARCH_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    UNSET,
    Violations,
    clean_search,
)


def new_product(**overrides: Any) -> NewProduct:
    """Validate a product that is valid apart from `overrides`."""
    values: dict[str, Any] = {
        "sku": "AB-1",
        "name": "Widget",
        "description": None,
        "price": Decimal("19.90"),
        "stock": 0,
        "is_active": True,
    }
    values.update(overrides)
    return validate_new_product(**values)


def refused_fields(**overrides: Any) -> dict[str, str]:
    """The per-field reasons of a product that must be refused."""
    with pytest.raises(InvalidInput) as caught:
        new_product(**overrides)
    assert caught.value.code is ErrorCode.BAD_USER_INPUT
    return caught.value.fields


# ---------------------------------------------------------------- price


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("19.9", "19.90"),
        ("19.90", "19.90"),
        ("19.900", "19.90"),
        ("0", "0.00"),
        ("1E+2", "100.00"),
        (str(MAX_PRICE), "9999999999.99"),
    ],
)
def test_given_a_price_with_at_most_two_decimals_when_validated_then_it_is_kept_to_the_cent(
    given: str, stored: str
) -> None:
    product = new_product(price=Decimal(given))

    assert str(product.price) == stored


def test_given_negative_zero_when_validated_then_the_price_is_plain_zero() -> None:
    product = new_product(price=Decimal("-0"))

    assert str(product.price) == "0.00"


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("1.999", "must have at most 2 decimal places"),
        ("0.001", "must have at most 2 decimal places"),
        ("-1", "must be at least 0"),
        ("-0.01", "must be at least 0"),
        ("NaN", "must be a finite number"),
        ("sNaN", "must be a finite number"),
        ("Infinity", "must be a finite number"),
        ("-Infinity", "must be a finite number"),
        ("10000000000.00", f"must be at most {MAX_PRICE}"),
    ],
)
def test_given_a_bad_price_when_validated_then_price_is_refused_with_a_reason(
    given: str, reason: str
) -> None:
    assert refused_fields(price=Decimal(given)) == {"price": reason}


# ---------------------------------------------------------------- stock


@pytest.mark.parametrize("stock", [0, 1, MAX_STOCK])
def test_given_stock_within_bounds_when_validated_then_it_is_kept(stock: int) -> None:
    assert new_product(stock=stock).stock == stock


@pytest.mark.parametrize(
    ("stock", "reason"),
    [(-1, "must be at least 0"), (MAX_STOCK + 1, f"must be at most {MAX_STOCK}")],
)
def test_given_stock_out_of_bounds_when_validated_then_stock_is_refused(
    stock: int, reason: str
) -> None:
    assert refused_fields(stock=stock) == {"stock": reason}


# ---------------------------------------------------------------- sku


@pytest.mark.parametrize(
    ("given", "stored"),
    [("ab-1", "AB-1"), ("  x9z  ", "X9Z"), ("A" * 32, "A" * 32), ("a-b-c", "A-B-C")],
)
def test_given_a_valid_sku_when_validated_then_it_is_stripped_and_upper_cased(
    given: str, stored: str
) -> None:
    assert new_product(sku=given).sku == stored


@pytest.mark.parametrize(
    "sku",
    ["AB", "A" * 33, "-AB", "AB-", "AB_1", "AB 1", "ÄB1", "", "   ", "AB\n1"],
)
def test_given_a_malformed_sku_when_validated_then_sku_is_refused(sku: str) -> None:
    assert set(refused_fields(sku=sku)) == {"sku"}


# ---------------------------------------------------------------- texts


def test_given_a_name_of_the_maximum_length_when_validated_then_it_is_kept() -> None:
    assert new_product(name="n" * NAME_MAX_LENGTH).name == "n" * NAME_MAX_LENGTH


def test_given_a_name_one_past_the_maximum_when_validated_then_name_is_refused() -> None:
    assert refused_fields(name="n" * (NAME_MAX_LENGTH + 1)) == {
        "name": f"must be at most {NAME_MAX_LENGTH} characters"
    }


def test_given_surrounding_spaces_when_validated_then_they_do_not_count_towards_the_limit() -> None:
    assert new_product(name=f"  {'n' * NAME_MAX_LENGTH}  ").name == "n" * NAME_MAX_LENGTH


@pytest.mark.parametrize("name", ["", " ", "\t\n "])
def test_given_a_blank_name_when_validated_then_name_must_not_be_blank(name: str) -> None:
    assert refused_fields(name=name) == {"name": "must not be blank"}


@pytest.mark.parametrize("name", ["a\x00b", "a\x07b", "a\x1bb", "a\x7fb", "a\x9bb", "a\tb"])
def test_given_control_characters_in_a_name_when_validated_then_name_is_refused(
    name: str,
) -> None:
    assert refused_fields(name=name) == {"name": "must not contain control characters"}


@pytest.mark.parametrize("name", ["a\nb", "a\rb", "a\u2028b", "a\x85b"])
def test_given_a_line_break_in_a_name_when_validated_then_it_must_be_a_single_line(
    name: str,
) -> None:
    assert refused_fields(name=name) == {"name": "must be a single line"}


INVISIBLE = "must not contain invisible formatting characters"
BIDI = "must not contain bidirectional control characters"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("\u200b", INVISIBLE),
        ("zero\u200bwidth", INVISIBLE),
        ("\ufeffWidget", INVISIBLE),
        ("soft\u00adhyphen", INVISIBLE),
        ("word\u2060joiner", INVISIBLE),
        ("tag\U000e0041", INVISIBLE),
        ("private\ue000use", INVISIBLE),
        ("abc\u202edcba", BIDI),
        ("isolate\u2066x\u2069", BIDI),
        ("\u0301", "must not be blank"),
        ("\u200d\u200c", "must not be blank"),
    ],
)
def test_given_invisible_or_reordering_characters_in_a_name_when_validated_then_refused(
    name: str, reason: str
) -> None:
    assert refused_fields(name=name) == {"name": reason}


@pytest.mark.parametrize(
    "name",
    [
        "Caf\u00e9",
        "\u6771\u4eac",
        "\U0001f468\u200d\U0001f469",
        "\u0645\u06cc\u200c\u062e",
        "e\u0301",
    ],
)
def test_given_visible_unicode_and_joiners_in_a_name_when_validated_then_kept(name: str) -> None:
    assert new_product(name=name).name == name


def test_given_a_bidi_override_in_a_description_when_validated_then_refused_even_multiline() -> (
    None
):
    assert refused_fields(description="line\n\u202eevil") == {"description": BIDI}


def test_given_a_zero_width_space_in_a_description_when_validated_then_kept() -> None:
    # Multi-line text is prose pasted from elsewhere; only reordering characters are refused.
    assert new_product(description="a\u200bb").description == "a\u200bb"


@pytest.mark.parametrize("sku", ["stra\u00dfe", "\ufb00-123", "AB\u0661\u0662"])
def test_given_a_non_ascii_sku_when_validated_then_refused_not_case_folded(sku: str) -> None:
    assert "sku" in refused_fields(sku=sku)


def test_given_a_multiline_description_when_validated_then_it_is_kept() -> None:
    assert new_product(description="line 1\n\tline 2").description == "line 1\n\tline 2"


def test_given_a_description_of_the_maximum_length_when_validated_then_it_is_kept() -> None:
    text = "d" * TEXT_MAX_LENGTH

    assert new_product(description=text).description == text


def test_given_a_description_one_past_the_maximum_when_validated_then_it_is_refused() -> None:
    assert refused_fields(description="d" * (TEXT_MAX_LENGTH + 1)) == {
        "description": f"must be at most {TEXT_MAX_LENGTH} characters"
    }


def test_given_control_characters_in_a_description_when_validated_then_it_is_refused() -> None:
    assert refused_fields(description="ok\x00") == {
        "description": "must not contain control characters"
    }


@pytest.mark.parametrize("description", ["", "   ", None])
def test_given_a_blank_description_when_validated_then_it_becomes_none(
    description: str | None,
) -> None:
    assert new_product(description=description).description is None


# ---------------------------------------------------------------- several fields at once


def test_given_several_bad_fields_when_validated_then_one_error_names_each_of_them() -> None:
    with pytest.raises(InvalidInput) as caught:
        new_product(sku="x", name=" ", price=Decimal("-1"), stock=-5)

    assert caught.value.fields == {
        "sku": (
            "must be 3-32 letters, digits or hyphens, starting and ending with a letter or digit"
        ),
        "name": "must not be blank",
        "price": "must be at least 0",
        "stock": "must be at least 0",
    }
    assert caught.value.message == "Invalid input: name, price, sku, stock."


def test_given_two_reasons_for_one_field_when_collected_then_the_first_wins() -> None:
    v = Violations()
    v.add("name", "first")
    v.add("name", "second")

    with pytest.raises(InvalidInput) as caught:
        v.raise_if_any()

    assert caught.value.fields == {"name": "first"}


def test_given_no_reasons_when_checked_then_nothing_is_raised() -> None:
    Violations().raise_if_any()


# ---------------------------------------------------------------- patches: UNSET vs None


def test_given_an_empty_patch_when_validated_then_no_field_changes() -> None:
    assert validate_product_patch(ProductPatch()) == {}


@pytest.mark.parametrize("field", ["sku", "name", "price", "stock", "is_active"])
def test_given_explicit_null_for_a_required_product_field_when_patched_then_it_is_refused(
    field: str,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_product_patch(ProductPatch(**{field: None}))

    assert caught.value.fields == {field: "must not be null"}


def test_given_explicit_null_for_the_description_when_patched_then_it_is_cleared() -> None:
    assert validate_product_patch(ProductPatch(description=None)) == {"description": None}


def test_given_unset_description_when_patched_then_it_is_left_alone() -> None:
    values = validate_product_patch(ProductPatch(name=" New ", description=UNSET))

    assert values == {"name": "New"}


def test_given_patch_values_when_validated_then_they_are_normalised_like_new_ones() -> None:
    values = validate_product_patch(
        ProductPatch(sku=" ab-2 ", price=Decimal("5.5"), stock=3, is_active=False)
    )

    assert values == {"sku": "AB-2", "price": Decimal("5.50"), "stock": 3, "is_active": False}
    assert str(values["price"]) == "5.50"


def test_given_bad_patch_values_when_validated_then_each_field_is_named() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_product_patch(ProductPatch(price=Decimal("1.999"), stock=-1, name=""))

    assert set(caught.value.fields) == {"price", "stock", "name"}


@pytest.mark.parametrize("field", ["name", "email"])
def test_given_explicit_null_for_a_required_customer_field_when_patched_then_it_is_refused(
    field: str,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_customer_patch(CustomerPatch(**{field: None}))

    assert caught.value.fields == {field: "must not be null"}


def test_given_explicit_null_for_optional_customer_fields_when_patched_then_they_clear() -> None:
    values = validate_customer_patch(CustomerPatch(phone=None, company=None))

    assert values == {"phone": None, "company": None}


# ---------------------------------------------------------------- product filter


def test_given_min_price_above_max_price_when_filtering_then_max_price_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_product_filter(ProductFilter(min_price=Decimal("10"), max_price=Decimal("5")))

    assert caught.value.fields == {"max_price": "must not be below min_price"}


def test_given_equal_price_bounds_when_filtering_then_they_are_accepted() -> None:
    criteria = ProductFilter(min_price=Decimal("5"), max_price=Decimal("5"))

    assert validate_product_filter(criteria) == criteria


def test_given_a_negative_min_price_when_filtering_then_min_price_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_product_filter(ProductFilter(min_price=Decimal("-1")))

    assert caught.value.fields == {"min_price": "must be at least 0"}


# ---------------------------------------------------------------- email and phone


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Ann@X.com", "ann@x.com"),
        ("  ann.lee+work@example.co.uk ", "ann.lee+work@example.co.uk"),
        ("o'brien@sub-domain.example.org", "o'brien@sub-domain.example.org"),
    ],
)
def test_given_a_valid_email_when_validated_then_it_is_stripped_and_lower_cased(
    given: str, stored: str
) -> None:
    customer = validate_new_customer(name="Ann", email=given, phone=None, company=None)

    assert customer.email == stored


@pytest.mark.parametrize(
    "email",
    [
        "",
        "ann",
        "ann@",
        "@x.com",
        "ann@x",
        "ann@x.c",
        "ann x@x.com",
        "ann@@x.com",
        "ann@-x.com",
        "ann@x..com",
        f"{'a' * 250}@x.com",
    ],
)
def test_given_a_malformed_email_when_validated_then_email_is_refused(email: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_new_customer(name="Ann", email=email, phone=None, company=None)

    assert caught.value.fields == {"email": "must be a valid email address"}


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("+44 20 7946 0958", "+44 20 7946 0958"),
        (" 555 (123) 4567 ", "555 (123) 4567"),
        ("1234", "1234"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_given_a_valid_or_blank_phone_when_validated_then_it_is_kept_or_none(
    given: str | None, stored: str | None
) -> None:
    customer = validate_new_customer(name="Ann", email="a@x.com", phone=given, company=None)

    assert customer.phone == stored


@pytest.mark.parametrize("phone", ["12", "phone", "+44 abc", "++4412345", "1" * 33, "12\n34"])
def test_given_a_malformed_phone_when_validated_then_phone_is_refused(phone: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_new_customer(name="Ann", email="a@x.com", phone=phone, company=None)

    assert caught.value.fields == {"phone": "must be a phone number of 4-32 digits"}


def test_given_a_long_company_when_validated_then_company_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_new_customer(
            name="Ann", email="a@x.com", phone=None, company="c" * (NAME_MAX_LENGTH + 1)
        )

    assert caught.value.fields == {"company": f"must be at most {NAME_MAX_LENGTH} characters"}


def test_given_a_bad_customer_when_validated_then_every_bad_field_is_named() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_new_customer(name="", email="nope", phone="x", company="a\x00")

    assert set(caught.value.fields) == {"name", "email", "phone", "company"}


def test_given_an_email_criterion_when_normalised_then_it_is_lower_cased() -> None:
    criteria = normalise_customer_filter(CustomerFilter(email=" Ann@X.com "))

    assert criteria.email == "ann@x.com"


def test_given_an_overlong_email_criterion_when_normalised_then_it_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_customer_filter(CustomerFilter(email="a" * 255))

    assert set(caught.value.fields) == {"email"}


# ---------------------------------------------------------------- search


def test_given_a_search_term_when_cleaned_then_it_is_stripped() -> None:
    assert clean_search("  widget ") == "widget"


@pytest.mark.parametrize("term", [None, "", "   "])
def test_given_a_blank_search_when_cleaned_then_there_is_no_search(term: str | None) -> None:
    assert clean_search(term) is None


def test_given_a_search_term_of_the_maximum_length_when_cleaned_then_it_is_kept() -> None:
    assert clean_search("s" * SEARCH_MAX_LENGTH) == "s" * SEARCH_MAX_LENGTH


def test_given_an_overlong_search_term_when_cleaned_then_search_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_search("s" * (SEARCH_MAX_LENGTH + 1))

    assert caught.value.fields == {"search": f"must be at most {SEARCH_MAX_LENGTH} characters"}


@pytest.mark.parametrize("term", ["a\x00b", "a\x1bb"])
def test_given_control_characters_in_a_search_term_when_cleaned_then_search_is_refused(
    term: str,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_search(term)

    assert caught.value.fields == {"search": "must not contain control characters"}


def test_given_a_nul_in_the_sku_criterion_when_filtering_then_sku_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_product_filter(ProductFilter(sku="AB\x00"))

    assert caught.value.fields == {"sku": "must not contain control characters"}


def test_given_nul_in_customer_criteria_when_normalised_then_each_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_customer_filter(CustomerFilter(email="a\x00@x.com", company="A\x00"))

    assert caught.value.fields == {
        "email": "must not contain control characters",
        "company": "must not contain control characters",
    }
