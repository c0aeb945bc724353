from __future__ import annotations

from django import forms

from .checkout import Customer
from .models import MARKETING_WORDING, Order, Review


class CheckoutForm(forms.Form):
    email = forms.EmailField()
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100, required=False)
    phone = forms.CharField(max_length=32, required=False)
    shipping_method = forms.ChoiceField(
        choices=Order.ShippingMethod.choices, widget=forms.RadioSelect
    )
    shipping_address = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Street, house, flat, city, postcode. Not needed for pickup.",
    )
    payment_method = forms.ChoiceField(
        choices=Order.PaymentMethod.choices, widget=forms.RadioSelect
    )
    coupon = forms.CharField(
        label="Coupon code",
        max_length=48,
        required=False,
        help_text="From one of our emails, e.g. THANKS-ABCD2345EFGH.",
    )
    marketing_opt_in = forms.BooleanField(label=MARKETING_WORDING, required=False)

    def clean(self) -> dict:
        data = super().clean()
        method = data.get("shipping_method")
        if method and method != Order.ShippingMethod.PICKUP and not data.get("shipping_address"):
            self.add_error("shipping_address", "Please enter a delivery address.")
        return data

    def customer(self) -> Customer:
        d = self.cleaned_data
        return Customer(
            email=d["email"],
            first_name=d["first_name"],
            last_name=d["last_name"],
            phone=d["phone"],
            shipping_address=d["shipping_address"],
            shipping_method=d["shipping_method"],
            payment_method=d["payment_method"],
            marketing_opt_in=d["marketing_opt_in"],
        )


class ReviewForm(forms.ModelForm):
    rating = forms.TypedChoiceField(
        choices=[(i, f"{i} ★") for i in range(5, 0, -1)], coerce=int, widget=forms.RadioSelect
    )

    class Meta:
        model = Review
        fields = ["name", "email", "rating", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 4})}
        labels = {"text": "Your review"}


class CartQuantityForm(forms.Form):
    qty = forms.IntegerField(min_value=0, max_value=99)
