"""Words the simulated market is made of: categories, brands, product lines, attributes.

Kept as plain data so titles read like real ones ("Sony WH-1000XM5 Wireless Headphones Black")
and so matching has real difficulty: shared brands across categories, variants that differ
only in size, colour or model number, abbreviations a shop may use.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    name: str
    noun: str  # what the product is called in a title
    brands: tuple[str, ...]
    lines: tuple[str, ...]
    sizes: tuple[str, ...]  # the "size" axis of a variant (capacity, screen size, shoe size ...)
    base_price: tuple[float, float]  # USD range of a typical price
    elasticity: float  # true price elasticity of our demand in this category


COLOURS = (
    "Black",
    "White",
    "Silver",
    "Blue",
    "Red",
    "Green",
    "Grey",
    "Rose Gold",
    "Navy",
    "Beige",
)

CATEGORIES: tuple[Category, ...] = (
    Category(
        "headphones",
        "Headphones",
        "Wireless Headphones",
        ("Sony", "Bose", "Sennheiser", "JBL", "Jabra", "Anker"),
        ("SoundMax", "QuietComfort", "Momentum", "Tune", "Elite", "Liberty"),
        ("", "Over-Ear", "On-Ear", "In-Ear"),
        (29, 399),
        -1.8,
    ),
    Category(
        "laptops",
        "Laptops",
        "Laptop",
        ("Lenovo", "Dell", "HP", "Asus", "Acer", "Apple"),
        ("ThinkPad", "Inspiron", "Pavilion", "ZenBook", "Swift", "MacBook Air"),
        ('13.3"', '14"', '15.6"', '16"'),
        (399, 2499),
        -1.2,
    ),
    Category(
        "smartphones",
        "Smartphones",
        "Smartphone",
        ("Samsung", "Apple", "Xiaomi", "Google", "Motorola", "OnePlus"),
        ("Galaxy", "iPhone", "Redmi Note", "Pixel", "Moto G", "Nord"),
        ("64GB", "128GB", "256GB", "512GB"),
        (149, 1399),
        -1.5,
    ),
    Category(
        "coffee-makers",
        "Coffee Makers",
        "Coffee Maker",
        ("DeLonghi", "Philips", "Krups", "Melitta", "Siemens", "Bosch"),
        ("Magnifica", "LatteGo", "Evidence", "Caffeo", "EQ.6", "Tassimo"),
        ("1.2L", "1.5L", "1.8L"),
        (49, 1199),
        -2.1,
    ),
    Category(
        "running-shoes",
        "Running Shoes",
        "Running Shoes",
        ("Nike", "Adidas", "Asics", "Brooks", "Hoka", "Saucony"),
        ("Pegasus", "Ultraboost", "Gel-Nimbus", "Ghost", "Clifton", "Ride"),
        ("Size 8", "Size 9", "Size 10", "Size 11", "Size 12"),
        (59, 229),
        -2.6,
    ),
    Category(
        "monitors",
        "Monitors",
        "Monitor",
        ("LG", "Samsung", "Dell", "BenQ", "Asus", "AOC"),
        ("UltraGear", "Odyssey", "UltraSharp", "Zowie", "ProArt", "Agon"),
        ('24"', '27"', '32"', '34"'),
        (119, 1299),
        -1.4,
    ),
    Category(
        "vacuum-cleaners",
        "Vacuum Cleaners",
        "Cordless Vacuum Cleaner",
        ("Dyson", "Shark", "Bosch", "Miele", "Philips", "Rowenta"),
        ("V15", "Stratos", "Unlimited", "Triflex", "SpeedPro", "X-Force"),
        ("", "0.5L", "0.75L"),
        (99, 899),
        -1.9,
    ),
    Category(
        "blenders",
        "Blenders",
        "Blender",
        ("Vitamix", "Ninja", "Philips", "Braun", "KitchenAid", "Bosch"),
        ("Explorian", "Professional", "Avance", "MultiQuick", "Artisan", "VitaBoost"),
        ("1.0L", "1.5L", "2.0L"),
        (39, 649),
        -2.4,
    ),
    Category(
        "backpacks",
        "Backpacks",
        "Backpack",
        ("Osprey", "Deuter", "Samsonite", "Herschel", "Fjallraven", "Thule"),
        ("Farpoint", "Futura", "Pro-DLX", "Little America", "Kanken", "Subterra"),
        ("20L", "28L", "35L", "40L"),
        (39, 299),
        -2.9,
    ),
    Category(
        "watches",
        "Watches",
        "Smartwatch",
        ("Garmin", "Apple", "Samsung", "Fossil", "Polar", "Suunto"),
        ("Forerunner", "Watch SE", "Galaxy Watch", "Gen 6", "Vantage", "Race"),
        ("40mm", "42mm", "44mm", "46mm"),
        (99, 999),
        -1.6,
    ),
    Category(
        "cameras",
        "Cameras",
        "Mirrorless Camera",
        ("Canon", "Nikon", "Sony", "Fujifilm", "Panasonic", "Olympus"),
        ("EOS R", "Z", "Alpha", "X-T", "Lumix G", "OM-D"),
        ("Body Only", "Kit 18-55mm", "Kit 24-105mm"),
        (399, 3499),
        -1.1,
    ),
    Category(
        "t-shirts",
        "T-Shirts",
        "Cotton T-Shirt",
        ("Uniqlo", "Levi's", "Hanes", "Patagonia", "Nike", "Adidas"),
        ("Supima", "Housemark", "Beefy-T", "P-6 Logo", "Dri-FIT", "Essentials"),
        ("S", "M", "L", "XL", "XXL"),
        (9, 59),
        -3.2,
    ),
)

# What a shop may do to a title: abbreviate words, add marketing words.
ABBREVIATIONS = {
    "Wireless": "Wrls",
    "Headphones": "Hdphn",
    "Black": "Blk",
    "White": "Wht",
    "Silver": "Slv",
    "Professional": "Pro",
    "Cordless": "Cordl.",
    "Vacuum Cleaner": "Vacuum",
    "Smartphone": "Phone",
    "Mirrorless Camera": "Mirrorless Cam",
    "Coffee Maker": "Coffee Machine",
    "Running Shoes": "Runners",
    "Cotton T-Shirt": "Tee",
}
EXTRA_WORDS = (
    "NEW",
    "2026 Model",
    "Free Shipping",
    "Genuine",
    "UK Stock",
    "Top Seller",
    "with Warranty",
    "Sale",
)

# Titles that must not hurt whoever handles them (hostile fault profile).
RTL_OVERRIDE = "\u202e"
ZERO_WIDTH = "\u200b\u200c\u200d\ufeff"
