"""Recipes: the YAML file that says what to train and how.

Load and validate one with :func:`load_recipe` (every problem reported at once, with lines), write a
resolved one with :func:`recipe_to_yaml`. Importing this package does not import torch.
"""

from dlcheck.recipe.load import LoadedRecipe, load_recipe, parse_recipe
from dlcheck.recipe.schema import Recipe
from dlcheck.recipe.show import recipe_json_schema, recipe_to_yaml

__all__ = ["LoadedRecipe", "Recipe", "load_recipe", "parse_recipe", "recipe_json_schema", "recipe_to_yaml"]
