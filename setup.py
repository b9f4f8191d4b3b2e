"""Only what pyproject.toml cannot say: ship the top-level templates/email/ folder
inside the wheel as the package ``digest.email_templates``."""

from setuptools import find_packages, setup

setup(
    packages=find_packages("src") + ["digest.email_templates"],
    package_dir={"": "src", "digest.email_templates": "templates/email"},
)
