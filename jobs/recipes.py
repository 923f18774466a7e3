"""Compile recipes live in the domain (``domain.compiles.recipes``): the API validates them in
the Lambda layer, the compile job reads them here. Re-exported for the job programs."""

from domain.compiles.recipes import RECIPES, OnnxInt8Recipe, OnnxRecipe, validate_recipe

__all__ = ["RECIPES", "OnnxInt8Recipe", "OnnxRecipe", "validate_recipe"]
